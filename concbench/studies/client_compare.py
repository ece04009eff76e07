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
from functools import partial
from pathlib import Path

from concbench import fairness
from concbench.clients import native_engine, wrk
from concbench.errors import ExitCode, UsageError
from concbench.results.kinds import CLIENTS
from concbench.harness.server_process import ServerProcess
from concbench.results.format import git_commit
from concbench.results.run_file import COMPLETE, slot_of
from concbench.studies.ceiling import build_c_client, run_client
from concbench.studies.pipeline import JsonFile, Study, output_path, rotated, run_study, stamp
from concbench.studies.plans import ClientsPlan, Destination

WARMUP_S = 1.0
REFERENCE = {"http": "wrk", "echo": "c-epoll", "churn": "c-epoll"}
SIZED = ("echo", "churn")           # the scenarios with a message size


def client_command(client: str, plan: ClientsPlan, port: int, loadgen_cpus) -> list[str] | None:
    cpus = ",".join(map(str, loadgen_cpus))
    if client in ("native", "uvloop"):
        command = [sys.executable, "-m", "concbench", "load", plan.scenario, "--target", f"127.0.0.1:{port}",
                   "--connections", str(plan.connections), "--warmup", str(WARMUP_S),
                   "--duration", str(plan.duration), "--cpus", cpus, "--engine", client, "--json", "-"]
        return command + (["--size", str(plan.size)] if plan.scenario in SIZED else [])
    if client == "c-epoll":
        return ["taskset", "-c", cpus, str(build_c_client()), "127.0.0.1", str(port), str(plan.connections),
                str(plan.size), str(WARMUP_S), str(plan.duration), *(["--churn"] if plan.scenario == "churn" else [])]
    return None


def measure(client: str, plan: ClientsPlan, port: int, loadgen_cpus) -> dict:
    """One client's figure against one fresh server: {"rate": r} or {"error": text}."""
    if client == "wrk":
        try:
            record = wrk.run(f"http://127.0.0.1:{port}/plaintext", plan.connections, WARMUP_S, plan.duration,
                             loadgen_cpus, lambda name: None)
        except (RuntimeError, ValueError) as exc:
            return {"error": str(exc)}
        if record.get("errors"):
            return {"error": f"wrk counted errors: {record.get('error_kinds')}"}
        return {"rate": record["throughput_rps"], "client_core_busy_pct": record["loadgen_core_busy_pct"]}
    result = run_client(client_command(client, plan, port, loadgen_cpus), WARMUP_S + plan.duration + 60)
    if result.get("errors") or not result.get("requests"):
        return {"error": result.get("first_error") or f"{result.get('errors')} errors"}
    return {"rate": result["requests"] / result["window_s"],
            "client_core_busy_pct": result.get("loadgen_core_busy_pct")}


def measure_pair(pair: tuple[str, str], plan: ClientsPlan) -> dict:
    """One client against a fresh server of one runner: its rate, or why it has none."""
    runner, client = pair
    params = {"size": plan.size} if plan.scenario in SIZED else {}
    server = ServerProcess(runner, plan.scenario, params, plan.server_cpus).start()
    try:
        outcome = measure(client, plan, server.port, plan.loadgen_cpus)
    finally:
        server.stop()
    if "error" in outcome:
        return {"status": "failed", "runner": runner, "client": client, "first_error": outcome["error"]}
    return {"status": "ok", "runner": runner, "client": client, **outcome}


def outcome_line(record: dict) -> str:
    return f"{record['rate']:>10,.0f} req/s" if record["status"] == "ok" else f"FAILED: {record['first_error']}"


def check_clients(plan: ClientsPlan, clients: list[str]) -> None:
    """Refuse, before anything starts, a client that cannot drive the scenario or is not there."""
    if "wrk" in clients and plan.scenario != "http" or "c-epoll" in clients and plan.scenario not in SIZED:
        raise UsageError("wrk drives the http scenario only, c-epoll the echo and churn scenarios only")
    if "wrk" in clients and not wrk.available():
        raise UsageError("wrk is not installed (Debian: apt-get install -y wrk)")
    if "native" in clients and not native_engine.available():
        raise UsageError(native_engine.UNAVAILABLE_BECAUSE)


def run_clients(plan: ClientsPlan) -> int:
    """The whole `concbench clients` through the pipeline: per round, the servers and the clients in rotated
    order, a fresh server each, the JSON rewritten after each; then the medians and ratios."""
    reference = REFERENCE[plan.scenario]
    clients = list(plan.clients or ["native", reference])
    check_clients(plan, clients)
    fairness.raise_open_file_limit()
    order = [(rep, (runner, client)) for rep in range(plan.repetitions) for runner in rotated(list(plan.runners), rep)
             for client in rotated(clients, rep)]
    output = output_path("clients", Destination(),
                         Path("results") / f"clients-{plan.scenario}-{stamp()}.json", len(order), None)
    print(f"concbench clients: {plan.scenario}, {plan.connections} connections, {plan.repetitions} rounds of "
          f"{plan.duration:g} s; servers on cpu {plan.server_cpus}, clients on cpu {plan.loadgen_cpus}", flush=True)

    def rates(measurements, key: str = "rate") -> dict:
        return {runner: {client: [r.get(key) for _, r in measurements
                                  if r["status"] == "ok" and (r["runner"], r["client"]) == (runner, client)]
                         for client in clients} for runner in plan.runners}

    conclusions: dict = {}

    def summarize(measurements) -> dict:
        return {"command": " ".join(["concbench", *plan.command_line]), "git_commit": git_commit(),
                "scenario": plan.scenario, "connections": plan.connections, "duration_s": plan.duration,
                "server_cpus": list(plan.server_cpus), "loadgen_cpus": list(plan.loadgen_cpus),
                "rates": rates(measurements), "client_core_busy_pct": rates(measurements, "client_core_busy_pct"),
                "reference_client": reference, **conclusions}

    sink = JsonFile(output, summarize, CLIENTS)

    def conclude(measurements) -> int:
        medians = {runner: {client: statistics.median(values) for client, values in by_client.items() if values}
                   for runner, by_client in rates(measurements).items()}
        busy = {runner: {client: statistics.median(v) for client, v in by_client.items() if v and None not in v}
                for runner, by_client in rates(measurements, "client_core_busy_pct").items()}
        conclusions.update(medians=medians, client_core_busy_medians=busy,
                           server_ratios=print_ratios(plan, clients, reference, medians, busy))
        sink.finish(COMPLETE, concluded=True)
        print(f"figures written to {output}")
        return ExitCode.OK if all(medians[r] for r in plan.runners) else ExitCode.REGRESSION

    return run_study(Study("clients", order, partial(measure_pair, plan=plan), lambda rep, pair: slot_of(rep, "/".join(pair)),
                           lambda rep, pair: f"round {rep + 1}/{plan.repetitions} {pair[0]:<16} {pair[1]:<8}",
                           outcome_line, sink, conclude))


def print_ratios(plan: ClientsPlan, clients: list[str], reference: str, medians: dict, busy: dict) -> dict:
    """The medians table (each client's rate and the busy share of its core) with each client's ratio to the
    reference; with two servers, their ratio as each client sees it (returned)."""
    print(f"\n{'server':<16} " + " ".join(f"{c:>20}" for c in clients) + "   ratios to " + reference)
    for runner in plan.runners:
        cells = " ".join(f"{medians[runner].get(c, float('nan')):>12,.0f}"
                         f"{'' if c not in busy[runner] else f' ({busy[runner][c]:3.0f}%)':>8}" for c in clients)
        ratios = ", ".join(f"{c} {medians[runner][c] / medians[runner][reference]:.2f}x"
                           for c in clients if c != reference and c in medians[runner] and reference in medians[runner])
        print(f"{runner:<16} {cells}   {ratios}")
    server_ratios = {}
    if len(plan.runners) == 2:
        base, head = plan.runners
        for client in clients:
            if client in medians[base] and client in medians[head]:
                server_ratios[client] = medians[head][client] / medians[base][client]
        print(f"\n{head} / {base} as each client sees it: "
              + ", ".join(f"{c} {r:.2f}" for c, r in server_ratios.items()))
    return server_ratios
