"""`concbench ceiling` (make ceiling): how many verified echoes/s the load generator sustains on one core.

Against the reference C server (not a bottleneck candidate), the clients take turns on the
load generator's core in one run: concbench's load generator on each engine (native, uvloop, where
built), a bare uvloop client and a C epoll client. Ratios within the run are the figure to trust on
a noisy machine. The open-loop check also runs at 0.9x the C client's median (the issue-16 figure).
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from datetime import datetime, timezone

from concbench import cpu, fairness, registry
from concbench.results.format import git_commit
from concbench.results.kinds import CEILING
from concbench.results.summary_file import write_summary
from concbench.studies.orchestrate import rotated
from concbench.harness.sampling import ServerSampler
from concbench.harness.server_process import ServerProcess
from concbench.paths import BUILD, TOOLS

WARMUP_S = 1.0


def build_c_client() -> Path:
    compile_c = registry.RUNNERS[registry.reference_runner()].load().compile_c
    return compile_c(TOOLS / "epoll_echo_client.c", BUILD / "epoll_echo_client")


def client_commands(port: int, args, loadgen_cpus) -> dict[str, list[str]]:
    common = ["127.0.0.1", str(port), str(args.connections), str(args.size), str(WARMUP_S), str(args.duration)]
    pin = ["taskset", "-c", ",".join(map(str, loadgen_cpus))]
    load = [sys.executable, "-m", "concbench", "load", "echo", "--target", f"127.0.0.1:{port}",
            "--connections", str(args.connections), "--size", str(args.size),
            "--warmup", str(WARMUP_S), "--duration", str(args.duration),
            "--cpus", ",".join(map(str, loadgen_cpus)), "--json", "-"]
    return {
        "concbench": load + ["--engine", "native"],
        "concbench-uvloop": load + ["--engine", "uvloop"],
        "bare-uvloop": pin + [sys.executable, str(TOOLS / "bare_uvloop_client.py"), *common],
        "c-epoll": pin + [str(build_c_client()), *common],
    }


def run_client(command: list[str], timeout_s: float) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return {"requests": 0, "window_s": 1.0, "errors": 1,
                "first_error": (done.stderr.strip().splitlines() or ["no output"])[-1]}


def recording_cost_ns(samples: int = 2_000_000) -> dict:
    """What recording one latency costs on the hot path (timestamp + subtraction + array append),
    and what bucketing it into the histogram costs afterwards, in ns per value (median of 5)."""
    import time
    from array import array

    from concbench.results.histogram import Histogram
    clock = time.perf_counter_ns

    def timed_loop(record) -> float:
        start = clock()
        sent = start
        for _ in range(samples):
            record(clock() - sent)
        return (clock() - start) / samples

    def bare_loop() -> float:
        start = clock()
        sent = start
        for _ in range(samples):
            clock() - sent
        return (clock() - start) / samples

    per_value, bucketing = [], []
    for _ in range(5):
        values = array("q")
        per_value.append(timed_loop(values.append))
        began = clock()
        Histogram.from_values(values)
        bucketing.append((clock() - began) / samples)
    return {"record_ns": statistics.median(per_value), "loop_without_append_ns": bare_loop(),
            "histogram_bucketing_ns": statistics.median(bucketing)}


def open_loop_check(rate: float, args, server_cpus, loadgen_cpus) -> dict:
    """The concbench load generator (its default engine, or --engine) in open loop at `rate`."""
    server = ServerProcess(registry.reference_runner(), "echo", {"size": args.size}, server_cpus).start()
    try:
        command = [sys.executable, "-m", "concbench", "load", "echo", "--target", f"127.0.0.1:{server.port}",
                   "--connections", str(args.connections), "--size", str(args.size), "--warmup", str(WARMUP_S),
                   "--duration", str(args.duration), "--rate", str(rate),
                   "--cpus", ",".join(map(str, loadgen_cpus)), "--json", "-"]
        if getattr(args, "engine", None):
            command += ["--engine", args.engine]
        return run_client(command, WARMUP_S + args.duration + 60)
    finally:
        server.stop()


def run_ceiling(args) -> int:
    server_cpus, loadgen_cpus = fairness.default_cpu_split()
    fairness.pin_to_cpus(loadgen_cpus)
    fairness.raise_open_file_limit()
    from concbench.clients.native_engine import available
    names = ["concbench", "concbench-uvloop", "bare-uvloop", "c-epoll"] if available() else \
        ["concbench-uvloop", "bare-uvloop", "c-epoll"]
    if not available():
        print("concbench ceiling: the native engine is not built; measuring the uvloop engine only")
    rates: dict[str, list[float]] = {name: [] for name in names}
    busy: dict[str, list[float]] = {name: [] for name in names}
    server_busy: dict[str, list[float]] = {name: [] for name in names}
    print(f"concbench ceiling: echo {args.size} B, {args.connections} connections, {args.repetitions} repetitions "
          f"of {args.duration:g} s; reference C server on cpu {server_cpus}, clients on cpu {loadgen_cpus}", flush=True)
    for rep in range(args.repetitions):
        for name in rotated(names, rep):
            server = ServerProcess(registry.reference_runner(), "echo", {"size": args.size}, server_cpus).start()
            try:
                command = client_commands(server.port, args, loadgen_cpus)[name]
                sampler = ServerSampler(server.pid, server_cpus)
                cores0 = cpu.read_cores()
                sampler.start()
                result = run_client(command, WARMUP_S + args.duration + 60)
                evidence = sampler.stop()
                cores1 = cpu.read_cores()
            finally:
                server.stop()
            if result.get("errors") or not result.get("requests"):
                print(f"  rep {rep + 1} {name:<12} FAILED: {result.get('first_error', result)}", flush=True)
                continue
            rate = result["requests"] / result["window_s"]
            rates[name].append(rate)
            # whole-run busy share (warm-up included); the window's own figure is in the concbench result
            busy[name].append(cpu.busy_pct(cores0, cores1, loadgen_cpus))
            server_busy[name].append(evidence["server_core_busy_pct"])
            print(f"  rep {rep + 1} {name:<16} {rate:>10,.0f} verified echoes/s" if name != "bare-uvloop" else
                  f"  rep {rep + 1} {name:<16} {rate:>10,.0f} echoes/s (unverified)", flush=True)
    print(f"\n{'client':<16} {'echoes/s median':>16} {'(min-max)':>22} {'client core':>12} {'server core':>12}")
    for name in names:
        if not rates[name]:
            print(f"{name:<16} {'no successful repetition':>16}")
            continue
        print(f"{name:<16} {statistics.median(rates[name]):>16,.0f} ({min(rates[name]):>9,.0f}-{max(rates[name]):>9,.0f})"
              f" {statistics.median(busy[name]):>11.0f}% {statistics.median(server_busy[name]):>11.0f}%")
    cost = recording_cost_ns()
    print(f"\nrecording one latency: {cost['record_ns']:.0f} ns (perf_counter_ns, subtraction, array append; "
          f"the loop alone {cost['loop_without_append_ns']:.0f} ns); bucketing into the histogram after the run: "
          f"{cost['histogram_bucketing_ns']:.0f} ns per value")
    open_loop = []
    extra_rates = []
    if rates["c-epoll"] and not getattr(args, "no_relative_rate", False):
        extra_rates.append(round(0.9 * statistics.median(rates["c-epoll"]), -2))   # 0.9x the C client, this run
    for rate in [*(args.open_loop_rates or []), *extra_rates]:
        result = open_loop_check(rate, args, server_cpus, loadgen_cpus)
        open_loop.append({"offered": rate, **{k: result.get(k) for k in (
            "throughput_rps", "achieved_ratio", "overloaded", "schedule_backlog_end", "latency_p99_s",
            "latency_uncorrected_p99_s", "schedule_lateness_p99_s", "loadgen_core_busy_pct", "status", "first_error")}})
        row = open_loop[-1]
        if row["status"] != "ok":
            print(f"open loop {rate:,.0f}/s: FAILED: {row['first_error']}")
            continue
        print(f"open loop {rate:,.0f}/s offered: {row['throughput_rps']:,.0f}/s achieved "
              f"({100 * row['achieved_ratio']:.2f}%){' OVERLOADED' if row['overloaded'] else ', on schedule'}, "
              f"p99 {row['latency_p99_s'] * 1e3:.2f} ms corrected / {row['latency_uncorrected_p99_s'] * 1e3:.2f} ms "
              f"uncorrected, load generator core {row['loadgen_core_busy_pct']:.0f}%")
    ratio = None
    ratios = {}
    for name in names:
        if name != "c-epoll" and rates[name] and rates["c-epoll"]:
            ratios[name] = statistics.median(rates[name]) / statistics.median(rates["c-epoll"])
            print(f"{name} / C client: {ratios[name]:.2f} (medians of the same run)")
    ratio = ratios.get("concbench", ratios.get("concbench-uvloop"))
    output = Path("results") / f"ceiling-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}.json"
    write_summary(output, CEILING, {
        "command": "concbench ceiling " + " ".join(sys.argv[2:]), "git_commit": git_commit(),
        "connections": args.connections, "size": args.size, "duration_s": args.duration,
        "server_cpus": list(server_cpus), "loadgen_cpus": list(loadgen_cpus),
        "echoes_per_s": rates, "client_core_busy_pct": busy, "server_core_busy_pct": server_busy,
        "ratio_concbench_to_c": ratio, "ratios_to_c": ratios, "bare_uvloop_is_unverified": True,
        "concbench_engine": "native" if "concbench" in names else "uvloop",
        "recording_cost": cost, "open_loop": open_loop})
    print(f"figures written to {output}")
    if any(statistics.median(v) > 90 for v in server_busy.values() if v):
        print("note: the reference server's core was over 90% busy: on this machine the server side, not only "
              "the client, limits the figure (loopback TCP work is charged to both cores)")
    return 0 if rates[names[0]] else 1
