"""`concbench ceiling` (make ceiling): how many verified echoes/s the load generator sustains on one core.

Against the reference C server (not a bottleneck candidate), three clients take turns on the
load generator's core in one run: concbench's load generator, a bare uvloop client and a C epoll
client. Ratios within the run are the figure to trust on a noisy machine.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from datetime import datetime, timezone

from . import cpu, fairness
from .results import git_commit, write_json_atomically
from .orchestrate import rotated
from .sampling import ServerSampler
from .server_process import ServerProcess

TOOLS = Path(__file__).resolve().parent.parent / "tools"
BUILD = Path(__file__).resolve().parent.parent / "build"
WARMUP_S = 1.0


def build_c_client() -> Path:
    from runners.reference_c import compile_c
    return compile_c(TOOLS / "epoll_echo_client.c", BUILD / "epoll_echo_client")


def client_commands(port: int, args, loadgen_cpus) -> dict[str, list[str]]:
    common = ["127.0.0.1", str(port), str(args.connections), str(args.size), str(WARMUP_S), str(args.duration)]
    pin = ["taskset", "-c", ",".join(map(str, loadgen_cpus))]
    return {
        "concbench": [sys.executable, "-m", "concbench", "load", "echo", "--target", f"127.0.0.1:{port}",
                      "--connections", str(args.connections), "--size", str(args.size),
                      "--warmup", str(WARMUP_S), "--duration", str(args.duration),
                      "--cpus", ",".join(map(str, loadgen_cpus)), "--json", "-"],
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


def run_ceiling(args) -> int:
    server_cpus, loadgen_cpus = fairness.default_cpu_split()
    fairness.pin_to_cpus(loadgen_cpus)
    fairness.raise_open_file_limit()
    names = ["concbench", "bare-uvloop", "c-epoll"]
    rates: dict[str, list[float]] = {name: [] for name in names}
    busy: dict[str, list[float]] = {name: [] for name in names}
    server_busy: dict[str, list[float]] = {name: [] for name in names}
    print(f"concbench ceiling: echo {args.size} B, {args.connections} connections, {args.repetitions} repetitions "
          f"of {args.duration:g} s; reference C server on cpu {server_cpus}, clients on cpu {loadgen_cpus}", flush=True)
    for rep in range(args.repetitions):
        for name in rotated(names, rep):
            server = ServerProcess("reference-c", "echo", {"size": args.size}, server_cpus).start()
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
            print(f"  rep {rep + 1} {name:<12} {rate:>10,.0f} verified echoes/s" if name != "bare-uvloop" else
                  f"  rep {rep + 1} {name:<12} {rate:>10,.0f} echoes/s (unverified)", flush=True)
    print(f"\n{'client':<12} {'echoes/s median':>16} {'(min-max)':>22} {'client core':>12} {'server core':>12}")
    for name in names:
        if not rates[name]:
            print(f"{name:<12} {'no successful repetition':>16}")
            continue
        print(f"{name:<12} {statistics.median(rates[name]):>16,.0f} ({min(rates[name]):>9,.0f}-{max(rates[name]):>9,.0f})"
              f" {statistics.median(busy[name]):>11.0f}% {statistics.median(server_busy[name]):>11.0f}%")
    ratio = None
    if rates["concbench"] and rates["c-epoll"]:
        ratio = statistics.median(rates["concbench"]) / statistics.median(rates["c-epoll"])
        print(f"\nconcbench / C client: {ratio:.2f} (medians of the same run)")
    output = Path("results") / f"ceiling-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}.json"
    write_json_atomically(output, {
        "command": "concbench ceiling " + " ".join(sys.argv[2:]), "git_commit": git_commit(),
        "connections": args.connections, "size": args.size, "duration_s": args.duration,
        "server_cpus": list(server_cpus), "loadgen_cpus": list(loadgen_cpus),
        "echoes_per_s": rates, "client_core_busy_pct": busy, "server_core_busy_pct": server_busy,
        "ratio_concbench_to_c": ratio, "bare_uvloop_is_unverified": True})
    print(f"figures written to {output}")
    if any(statistics.median(v) > 90 for v in server_busy.values() if v):
        print("note: the reference server's core was over 90% busy: on this machine the server side, not only "
              "the client, limits the figure (loopback TCP work is charged to both cores)")
    return 0 if rates["concbench"] else 1
