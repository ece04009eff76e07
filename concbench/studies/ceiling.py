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
import time
from array import array
from functools import partial
from pathlib import Path

from concbench import cpu, fairness, registry
from concbench.clients import native_engine
from concbench.errors import ExitCode
from concbench.harness.sampling import ServerSampler
from concbench.harness.server_process import ServerProcess
from concbench.paths import BUILD, TOOLS
from concbench.results.format import git_commit
from concbench.results.histogram import Histogram
from concbench.results.run_file import COMPLETE, slot_of
from concbench.results.kinds import CEILING
from concbench.studies.pipeline import JsonFile, Study, output_path, rotated, run_study, stamp
from concbench.studies.plans import CeilingPlan, Destination

WARMUP_S = 1.0


def build_c_client() -> Path:
    compile_c = registry.RUNNERS[registry.reference_runner()].load().compile_c
    return compile_c(TOOLS / "epoll_echo_client.c", BUILD / "epoll_echo_client")


def client_commands(port: int, plan: CeilingPlan, loadgen_cpus) -> dict[str, list[str]]:
    common = ["127.0.0.1", str(port), str(plan.connections), str(plan.size), str(WARMUP_S), str(plan.duration)]
    pin = ["taskset", "-c", ",".join(map(str, loadgen_cpus))]
    load = [sys.executable, "-m", "concbench", "load", "echo", "--target", f"127.0.0.1:{port}",
            "--connections", str(plan.connections), "--size", str(plan.size),
            "--warmup", str(WARMUP_S), "--duration", str(plan.duration),
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


OPEN_LOOP_CLIENTS = ("concbench", "c-epoll")
OPEN_LOOP_KEYS = ("throughput_rps", "achieved_ratio", "overloaded", "schedule_backlog_end", "latency_p50_s",
                  "latency_p99_s", "latency_p99_9_s", "latency_uncorrected_p99_s", "schedule_lateness_p99_s",
                  "loadgen_core_busy_pct", "status", "first_error")


def open_loop_command(client: str, rate: float, port: int, plan: CeilingPlan) -> list[str]:
    """The closed-loop command of the C client, or of concbench's load generator on its open-loop engine (--engine,
    else native where built), with the rate that makes it open loop."""
    if client == "concbench" and (plan.engine == "uvloop" or not native_engine.available()):
        client = "concbench-uvloop"
    return client_commands(port, plan, plan.loadgen_cpus)[client] + ["--rate", str(rate)]


def open_loop_check(rate: float, plan: CeilingPlan, client: str = "concbench") -> dict:
    """One open-loop run at `rate` against a fresh reference server: the OPEN_LOOP_KEYS of its result."""
    server = ServerProcess(registry.reference_runner(), "echo", {"size": plan.size}, plan.server_cpus).start()
    try:
        result = run_client(open_loop_command(client, rate, server.port, plan), WARMUP_S + plan.duration + 60)
    finally:
        server.stop()
    if client == "c-epoll":          # the C client's line: requests and window rather than a status and a rate
        result["status"] = "ok" if not result.get("errors") and result.get("requests") else "failed"
        result["throughput_rps"] = result.get("requests", 0) / (result.get("window_s") or 1.0)
        result.setdefault("first_error", "")
    return {"offered": rate, "client": client, **{k: result.get(k) for k in OPEN_LOOP_KEYS}}


def measure_client(name: str, plan: CeilingPlan) -> dict:
    """One client against a fresh reference server: its echoes/s and both cores' busy share, or a failure."""
    server = ServerProcess(registry.reference_runner(), "echo", {"size": plan.size}, plan.server_cpus).start()
    try:
        command = client_commands(server.port, plan, plan.loadgen_cpus)[name]
        sampler = ServerSampler(server.pid, plan.server_cpus)
        cores0 = cpu.read_cores()
        sampler.start()
        result = run_client(command, WARMUP_S + plan.duration + 60)
        evidence = sampler.stop()
        cores1 = cpu.read_cores()
    finally:
        server.stop()
    if result.get("errors") or not result.get("requests"):
        return {"status": "failed", "client": name, "first_error": str(result.get("first_error", result))}
    # whole-run busy share (warm-up included); the window's own figure is in the concbench result
    return {"status": "ok", "client": name, "echoes_per_s": result["requests"] / result["window_s"],
            "client_core_busy_pct": cpu.busy_pct(cores0, cores1, plan.loadgen_cpus),
            "server_core_busy_pct": evidence["server_core_busy_pct"]}


def format_outcome(record: dict) -> str:
    if record["status"] != "ok":
        return f"FAILED: {record['first_error']}"
    verified = "echoes/s (unverified)" if record["client"] == "bare-uvloop" else "verified echoes/s"
    return f"{record['echoes_per_s']:>10,.0f} {verified}"


def figures(names: list[str], measurements) -> dict:
    """client -> its echoes/s, client core and server core busy shares, over the repetitions that passed."""
    passed = [record for _, record in measurements if record["status"] == "ok"]
    return {key: {name: [r[key] for r in passed if r["client"] == name] for name in names}
            for key in ("echoes_per_s", "client_core_busy_pct", "server_core_busy_pct")}


def run(plan: CeilingPlan) -> int:
    """The whole `concbench ceiling` through the pipeline: the clients in rotated order against a fresh reference
    server each, the JSON rewritten after each; then the table, the recording cost, the open-loop checks, ratios."""
    fairness.pin_to_cpus(plan.loadgen_cpus)
    fairness.raise_open_file_limit()
    names = ["concbench", "concbench-uvloop", "bare-uvloop", "c-epoll"] if native_engine.available() else \
        ["concbench-uvloop", "bare-uvloop", "c-epoll"]
    if not native_engine.available():
        print("concbench ceiling: the native engine is not built; measuring the uvloop engine only")
    order = [(rep, name) for rep in range(plan.repetitions) for name in rotated(names, rep)]
    output = output_path("ceiling", Destination(), Path("results") / f"ceiling-{stamp()}.json", len(order), None)
    print(f"concbench ceiling: echo {plan.size} B, {plan.connections} connections, {plan.repetitions} repetitions "
          f"of {plan.duration:g} s; reference C server on cpu {plan.server_cpus}, clients on cpu {plan.loadgen_cpus}",
          flush=True)
    conclusions: dict = {}

    def summarize(measurements) -> dict:
        found = figures(names, measurements)
        return {"command": " ".join(["concbench", *plan.command_line]), "git_commit": git_commit(),
                "connections": plan.connections, "size": plan.size, "duration_s": plan.duration,
                "server_cpus": list(plan.server_cpus), "loadgen_cpus": list(plan.loadgen_cpus),
                "echoes_per_s": found["echoes_per_s"], "client_core_busy_pct": found["client_core_busy_pct"],
                "server_core_busy_pct": found["server_core_busy_pct"], "bare_uvloop_is_unverified": True,
                "concbench_engine": "native" if "concbench" in names else "uvloop", **conclusions}

    sink = JsonFile(output, summarize, CEILING)

    def conclude(measurements) -> int:
        found = figures(names, measurements)
        conclusions.update(conclude_ceiling(plan, names, found))
        sink.finish(COMPLETE, concluded=True)
        print(f"figures written to {output}")
        if any(statistics.median(v) > 90 for v in found["server_core_busy_pct"].values() if v):
            print("note: the reference server's core was over 90% busy: on this machine the server side, not only "
                  "the client, limits the figure (loopback TCP work is charged to both cores)")
        return ExitCode.OK if found["echoes_per_s"][names[0]] else ExitCode.REGRESSION

    return run_study(Study("ceiling", order, partial(measure_client, plan=plan), slot_of,
                           lambda rep, name: f"rep {rep + 1}/{plan.repetitions} {name:<16}", format_outcome, sink,
                           conclude))


def conclude_ceiling(plan: CeilingPlan, names: list[str], found: dict) -> dict:
    """The table, the recording cost, the open-loop checks and the ratios to the C client; their figures."""
    rates, busy, server_busy = found["echoes_per_s"], found["client_core_busy_pct"], found["server_core_busy_pct"]
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
    extra_rates = [round(0.9 * statistics.median(rates["c-epoll"]), -2)] if rates["c-epoll"] else []  # 0.9x C's
    open_loop = open_loop_checks([*plan.open_loop_rates, *extra_rates], plan)
    ratios = {}
    for name in names:
        if name != "c-epoll" and rates[name] and rates["c-epoll"]:
            ratios[name] = statistics.median(rates[name]) / statistics.median(rates["c-epoll"])
            print(f"{name} / C client: {ratios[name]:.2f} (medians of the same run)")
    return {"ratio_concbench_to_c": ratios.get("concbench", ratios.get("concbench-uvloop")), "ratios_to_c": ratios,
            "recording_cost": cost, "open_loop": open_loop}


def open_loop_checks(rates: list[float], plan: CeilingPlan) -> list[dict]:
    """Each rate, concbench's load generator and the C client in turn (rotated), plan.open_loop_repetitions times,
    a fresh reference server each: the records, and a line per rate comparing the two (medians)."""
    records = []
    for rep in range(plan.open_loop_repetitions):
        for n, rate in enumerate(rates):
            for client in rotated(list(OPEN_LOOP_CLIENTS), rep + n):
                records.append({"repetition": rep, **open_loop_check(rate, plan, client)})
                row = records[-1]
                print(f"open loop {rate:>9,.0f}/s {client:<10} " + (
                      f"FAILED: {row['first_error']}" if row["status"] != "ok" else
                      f"{row['throughput_rps']:>9,.0f}/s ({100 * row['achieved_ratio']:.2f}%), p99 "
                      f"{row['latency_p99_s'] * 1e3:6.2f} ms corrected / {row['latency_uncorrected_p99_s'] * 1e3:5.2f} "
                      f"ms uncorrected, its core {row['loadgen_core_busy_pct']:.0f}% busy"), flush=True)
    print(f"\nopen loop, medians of {plan.open_loop_repetitions}: offered, then per client: achieved share, "
          f"p99 corrected / uncorrected (ms)")
    for rate in rates:
        cells = []
        for client in OPEN_LOOP_CLIENTS:
            ok = [r for r in records if r["offered"] == rate and r["client"] == client and r["status"] == "ok"]
            if not ok:
                cells.append(f"{client}: no run passed")
                continue
            median = lambda key: statistics.median(r[key] for r in ok)  # noqa: E731
            cells.append(f"{client} {100 * median('achieved_ratio'):6.2f}% {median('latency_p99_s') * 1e3:6.2f} / "
                         f"{median('latency_uncorrected_p99_s') * 1e3:5.2f}")
        print(f"{rate:>9,.0f}/s   " + "   ".join(cells))
    return records
