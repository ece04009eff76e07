"""`concbench clients` (make wrk-compare, make headline): the same servers measured by several clients,
interleaved in one run, so a client's ratio to a reference client (wrk, the C epoll client) and the
servers' ratio as each client sees it are measured side by side, on the same noisy machine.

It owns the rounds and the ratios; the clients are the ordinary ones (concbench load on either engine,
wrk via concbench.clients.wrk, tools/epoll_echo_client.c). Every concbench reply is verified; wrk checks only
the status code and the C client only echo bytes, as their rows say.
"""
from __future__ import annotations

import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

from concbench import fairness, registry
from concbench.errors import UsageError
from concbench.studies.orchestrate import rotated
from concbench.results.format import git_commit
from concbench.results.kinds import CLIENTS
from concbench.results.summary_file import write_summary
from concbench.harness.server_process import ServerProcess

WARMUP_S = 1.0
REFERENCE = {"http": "wrk", "echo": "c-epoll"}


def add_clients_arguments(p) -> None:
    from concbench.cli import positive_float, positive_int
    p.add_argument("--scenario", choices=("http", "echo"), default="http")
    p.add_argument("--runners", nargs="+", default=registry.group_runners("clients"), metavar="RUNNER")
    p.add_argument("--clients", nargs="+", default=None, metavar="CLIENT",
                   help="native, uvloop (concbench's engines), wrk (http), c-epoll (echo); default: native and "
                        "the scenario's reference client (wrk for http, c-epoll for echo)")
    p.add_argument("--connections", type=positive_int, default=50)
    p.add_argument("--size", type=positive_int, default=64, help="echo message size")
    p.add_argument("--duration", type=positive_float, default=3.0, help="window per measurement, seconds")
    p.add_argument("--repetitions", type=positive_int, default=5)


def client_command(client: str, args, port: int, loadgen_cpus) -> list[str] | None:
    cpus = ",".join(map(str, loadgen_cpus))
    if client in ("native", "uvloop"):
        command = [sys.executable, "-m", "concbench", "load", args.scenario, "--target", f"127.0.0.1:{port}",
                   "--connections", str(args.connections), "--warmup", str(WARMUP_S),
                   "--duration", str(args.duration), "--cpus", cpus, "--engine", client, "--json", "-"]
        return command + (["--size", str(args.size)] if args.scenario == "echo" else [])
    if client == "c-epoll":
        from concbench.studies.ceiling import build_c_client
        return ["taskset", "-c", cpus, str(build_c_client()), "127.0.0.1", str(port), str(args.connections),
                str(args.size), str(WARMUP_S), str(args.duration)]
    return None


def measure(client: str, args, port: int, loadgen_cpus) -> dict:
    """One client's figure against one fresh server: {"rate": r} or {"error": text}."""
    if client == "wrk":
        from concbench.clients import wrk
        try:
            record = wrk.run(f"http://127.0.0.1:{port}/plaintext", args.connections, WARMUP_S, args.duration,
                             loadgen_cpus, lambda name: None)
        except (RuntimeError, ValueError) as exc:
            return {"error": str(exc)}
        if record.get("errors"):
            return {"error": f"wrk counted errors: {record.get('error_kinds')}"}
        return {"rate": record["throughput_rps"], "client_core_busy_pct": record["loadgen_core_busy_pct"]}
    from concbench.studies.ceiling import run_client
    result = run_client(client_command(client, args, port, loadgen_cpus), WARMUP_S + args.duration + 60)
    if result.get("errors") or not result.get("requests"):
        return {"error": result.get("first_error") or f"{result.get('errors')} errors"}
    return {"rate": result["requests"] / result["window_s"],
            "client_core_busy_pct": result.get("loadgen_core_busy_pct")}


def run_clients(args) -> int:
    reference = REFERENCE[args.scenario]
    clients = args.clients or ["native", reference]
    if "wrk" in clients and args.scenario != "http" or "c-epoll" in clients and args.scenario != "echo":
        raise UsageError("wrk drives the http scenario only, c-epoll the echo scenario only")
    if "wrk" in clients:
        from concbench.clients import wrk
        if not wrk.available():
            raise UsageError("wrk is not installed (Debian: apt-get install -y wrk)")
    if "native" in clients:
        from concbench.clients.native_engine import available, UNAVAILABLE_BECAUSE
        if not available():
            raise UsageError(UNAVAILABLE_BECAUSE)
    server_cpus, loadgen_cpus = fairness.default_cpu_split()
    fairness.raise_open_file_limit()
    params = {"size": args.size} if args.scenario == "echo" else {}
    rates = {runner: {client: [] for client in clients} for runner in args.runners}
    print(f"concbench clients: {args.scenario}, {args.connections} connections, {args.repetitions} rounds of "
          f"{args.duration:g} s; servers on cpu {server_cpus}, clients on cpu {loadgen_cpus}", flush=True)
    for rep in range(args.repetitions):
        for runner in rotated(args.runners, rep):
            for client in rotated(clients, rep):
                server = ServerProcess(runner, args.scenario, params, server_cpus).start()
                try:
                    outcome = measure(client, args, server.port, loadgen_cpus)
                finally:
                    server.stop()
                if "error" in outcome:
                    print(f"  round {rep + 1} {runner:<16} {client:<8} FAILED: {outcome['error']}", flush=True)
                    continue
                rates[runner][client].append(outcome["rate"])
                print(f"  round {rep + 1} {runner:<16} {client:<8} {outcome['rate']:>10,.0f} req/s", flush=True)
    medians = {runner: {client: statistics.median(values) for client, values in by_client.items() if values}
               for runner, by_client in rates.items()}
    print(f"\n{'server':<16} " + " ".join(f"{c:>12}" for c in clients) + "   ratios to " + reference)
    for runner in args.runners:
        cells = " ".join(f"{medians[runner].get(c, float('nan')):>12,.0f}" for c in clients)
        ratios = ", ".join(f"{c} {medians[runner][c] / medians[runner][reference]:.2f}x"
                           for c in clients if c != reference and c in medians[runner] and reference in medians[runner])
        print(f"{runner:<16} {cells}   {ratios}")
    server_ratios = {}
    if len(args.runners) == 2:
        base, head = args.runners
        for client in clients:
            if client in medians[base] and client in medians[head]:
                server_ratios[client] = medians[head][client] / medians[base][client]
        print(f"\n{head} / {base} as each client sees it: "
              + ", ".join(f"{c} {r:.2f}" for c, r in server_ratios.items()))
    output = Path("results") / f"clients-{args.scenario}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}.json"
    write_summary(output, CLIENTS, {
        "command": "concbench clients " + " ".join(sys.argv[2:]), "git_commit": git_commit(),
        "scenario": args.scenario, "connections": args.connections, "duration_s": args.duration,
        "server_cpus": list(server_cpus), "loadgen_cpus": list(loadgen_cpus), "rates": rates,
        "medians": medians, "reference_client": reference, "server_ratios": server_ratios})
    print(f"figures written to {output}")
    return 0 if all(medians[r] for r in args.runners) else 1
