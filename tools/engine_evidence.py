"""Deterministic-ish evidence about the native load-generator engine (issue 16), for a busy machine: instructions
per reply under callgrind, and per-request costs that stay comparable when wall-clock rates do not.

`instructions`: a bounded run of the engine (and of the C reference client, on echo) under callgrind against a
server pinned to cpu 0; user-space instructions inside the loop divided by the replies.
`rounds`: clients take turns against a fresh server each (interleaved); for each: replies/s, the SERVER's CPU time
per request and how often the client slept per request (voluntary context switches). A client asleep in
epoll_wait costs the server a wake-up in the write that sends a reply, so these two move together.
Nothing here asserts a speed; it prints figures with the command that made them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from concbench.harness.server_process import ServerProcess
from concbench.paths import BUILD, TOOLS

CLIENT_CPU = "1"


def params(scenario: str) -> dict:
    return {"size": 64} if scenario == "echo" else {}


def c_client() -> Path:
    from concbench.runners.reference_c import compile_c
    return compile_c(TOOLS / "epoll_echo_client.c", BUILD / "epoll_echo_client")


def engine_child(port: int, scenario: str, connections: int, warmup: float, duration: float, spin_us: float) -> dict:
    """One run of the C loop in this process (pinned to CLIENT_CPU): replies, window, CPU time in the window."""
    import socket
    import time

    from concbench import registry
    from concbench.clients.native_engine import _engine
    os.sched_setaffinity(0, {int(CLIENT_CPU)})
    workload = registry.SCENARIOS[scenario].client_workload(params(scenario))
    check = workload.response_check() if workload.response_check else None
    marks = {}
    result = _engine.run(socket.AF_INET, "127.0.0.1", port, tuple((x.request, x.expected_reply) for x in workload.exchanges),
                         connections, warmup, duration, 5.0, 5.0, 0.0, problem=check.problem if check else None,
                         on_event=lambda name: marks.__setitem__(name, time.process_time()),
                         max_head=getattr(workload.response_check, "max_header_bytes", 65536),
                         **({"spin_us": spin_us} if spin_us else {}))     # builds before the polling lack it
    window = len(result["latencies"]) // 8
    return {"replies_total": result["verified_replies_total"], "replies": window, "window_s": result["window_s"],
            "errors": sum(result["errors"].values()), "first_error": result["first_error"].decode(),
            "cpu_s": marks["window_end"] - marks["window_start"] - result.get("idle_polling_cpu_s", 0.0)}


def engine_command(port, scenario, connections, warmup, duration, spin_us, wrap=()) -> list[str]:
    return [*wrap, sys.executable, __file__, "_engine", str(port), scenario, str(connections), str(warmup),
            str(duration), str(spin_us)]


# --- instructions per reply ---------------------------------------------------------------------------
def callgrind_calls(path: str) -> dict[str, int]:
    """Calls to each function in a callgrind output file (cfn= / calls= lines), by name."""
    text = Path(path).read_text()
    names = dict(re.findall(r"^c?fn=\((\d+)\) (.+)$", text, re.M))
    calls: dict[str, int] = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^cfn=\((\d+)\)", line)
        if match:
            current = names.get(match.group(1))
            continue
        match = re.match(r"^calls=(\d+)", line)
        if match and current:
            calls[current] = calls.get(current, 0) + int(match.group(1))
            current = None
    return calls


def instructions(args) -> None:
    clients = ["native"] + (["c-epoll"] if args.scenario == "echo" and args.runner == "reference-c" else [])
    for client in clients:
        server = ServerProcess(args.runner, args.scenario, params(args.scenario), (0,)).start()
        with tempfile.TemporaryDirectory() as tmp:
            out = f"{tmp}/callgrind.out"
            try:
                if client == "native":
                    command = engine_command(server.port, args.scenario, args.connections, 0.2, args.duration,
                                             args.spin_us, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                                            "--toggle-collect=run_until"])
                else:
                    command = ["taskset", "-c", CLIENT_CPU, "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                               "--toggle-collect=main", str(c_client()), "127.0.0.1", str(server.port),
                               str(args.connections), "64", "0.2", str(args.duration)]
                done = subprocess.run(command, capture_output=True, text=True, timeout=args.duration + 300)
            finally:
                server.stop()
            total = int(re.search(r"Collected : (\d+)", done.stderr).group(1))
            calls = callgrind_calls(out)
        replies = sum(v for k, v in calls.items() if k.split("'")[0] in ("recv", "read"))   # one recv per reply here
        print(f"{client:8} {args.scenario} against {args.runner}: {total / replies:,.0f} instructions per reply "
              f"({total:,} in the loop, {replies:,} recv calls)", flush=True)


# --- interleaved rounds: server CPU and client sleeps per request ---------------------------------------
def task_cpu_s(pid: int) -> float:
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_client(name: str, port: int, args) -> tuple[dict, object]:
    """(figures, rusage) of one client run without warm-up (replies_total counts every reply of the run)."""
    if name == "wrk":
        command = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{args.connections}", f"-d{round(args.duration)}s",
                   "--timeout", "2s", f"http://127.0.0.1:{port}/plaintext"]
    elif name == "c-epoll":
        command = ["taskset", "-c", CLIENT_CPU, str(c_client()), "127.0.0.1", str(port), str(args.connections), "64",
                   "0", str(args.duration)]
    else:
        spin = 0.0 if name == "native-nopoll" else args.spin_us
        command = engine_command(port, args.scenario, args.connections, 0, args.duration, spin)
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if name == "wrk":
        match = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
        window = float(match.group(2)) * {"ms": 1e-3, "s": 1.0, "m": 60.0}[match.group(3)]
        return {"replies_total": int(match.group(1)), "window_s": window}, usage
    figures = json.loads(output)
    if name == "c-epoll":
        figures = {"replies_total": figures["requests"], "window_s": figures["window_s"]}
    return figures, usage


def rounds(args) -> None:
    names = args.clients.split(",")
    table = {name: [] for name in names}
    print(f"{args.scenario} against {args.runner} (cpu 0), clients on cpu {CLIENT_CPU}, {args.connections} connections, "
          f"{args.rounds} interleaved rounds of {args.duration:g} s", flush=True)
    for turn in range(args.rounds):
        for name in names[turn % len(names):] + names[:turn % len(names)]:
            server = ServerProcess(args.runner, args.scenario, params(args.scenario), (0,)).start()
            try:
                cpu0 = task_cpu_s(server.pid)
                figures, usage = run_client(name, server.port, args)
                cpu1 = task_cpu_s(server.pid)
            finally:
                server.stop()
            replies = figures["replies_total"]
            row = (replies / figures["window_s"], 1e6 * (cpu1 - cpu0) / replies, usage.ru_nvcsw / replies)
            table[name].append(row)
            print(f"  round {turn + 1} {name:14} {row[0]:>10,.0f} replies/s   server CPU {row[1]:5.2f} us/request   "
                  f"client sleeps {row[2]:.3f}/request", flush=True)
    print(f"\n{'client':14} {'replies/s':>10} {'server us/req':>14} {'client sleeps/req':>18}   (medians)")
    for name, rows in table.items():
        print(f"{name:14} {statistics.median(r[0] for r in rows):>10,.0f} {statistics.median(r[1] for r in rows):>14.2f} "
              f"{statistics.median(r[2] for r in rows):>18.3f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_engine":
        port, scenario, connections, warmup, duration, spin = sys.argv[2:8]
        print(json.dumps(engine_child(int(port), scenario, int(connections), float(warmup), float(duration),
                                      float(spin))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("instructions", "rounds"):
        p = sub.add_parser(name)
        p.add_argument("--scenario", default="echo", choices=("echo", "http"))
        p.add_argument("--runner", default="reference-c")
        p.add_argument("--connections", type=int, default=50)
        p.add_argument("--duration", type=float, default=1.0 if name == "instructions" else 2.0)
        p.add_argument("--spin-us", type=float, default=None,
                       help="the engine's polling time before sleeping (default: concbench's; 0 for instructions)")
        if name == "rounds":
            p.add_argument("--rounds", type=int, default=3)
            p.add_argument("--clients", default="c-epoll,native,native-nopoll",
                           help="comma-separated: c-epoll (echo), wrk (http), native, native-nopoll")
    args = parser.parse_args()
    if args.spin_us is None and args.what == "instructions":
        args.spin_us = 0.0                   # instructions spent polling are idle, not the per-reply path's
    if args.spin_us is None:
        from concbench.clients.native_engine import spin_us
        args.spin_us = spin_us()
    instructions(args) if args.what == "instructions" else rounds(args)


if __name__ == "__main__":
    main()
