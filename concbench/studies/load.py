"""`concbench load` and `concbench merge-load`: one load generator driving any server (one started by concbench, or
not), and the reports of several (hosts) merged into one.

It owns the checks before connecting (open files, processes against connections, the target answers), the wait for
--start-at, the choice of engine, the JSON events a parent `run` reads (--events), and the one-line summary.
Load generating itself is concbench.clients'; the report's fields are concbench.results.measurement's.
"""
from __future__ import annotations

import json
import time

from concbench import fairness, registry
from concbench.clients import native_engine
from concbench.clients.loadgen import LoadPlan, probe, run_load
from concbench.clients.loadgen_procs import run_load_processes
from concbench.errors import ExitCode, UsageError
from concbench.harness import protocol
from concbench.results.format import write_json_atomically
from concbench.results.measurement import loadgen_report, merge_reports
from concbench.studies.plans import LoadCommandPlan


def run(plan: LoadCommandPlan) -> int:
    """Drive plan's target once; exit 0 when the measurement passed, 1 when it failed (it says why)."""
    fairness.pin_to_cpus(plan.cpus)
    limit = fairness.raise_open_file_limit()
    if plan.connections + 64 > limit:
        raise UsageError(f"{plan.connections} connections need more open files than the limit ({limit}); "
                         f"raise the hard limit (ulimit -Hn) or use fewer connections")
    if plan.loadgen_procs > plan.connections:
        raise UsageError(f"--loadgen-procs {plan.loadgen_procs} needs at least as many connections")
    problem = probe(plan.host, plan.port)
    if problem:
        raise UsageError(problem)

    def emit(event):
        if plan.events:
            protocol.emit(event)

    load = LoadPlan(plan.host, plan.port, plan.connections, plan.warmup_s, plan.duration_s, plan.timeout_s,
                    rate=plan.rate, arrival=plan.arrival)
    if plan.start_at is not None:
        wait = plan.start_at - time.time()
        if wait > 3600:
            raise UsageError(f"--start-at is {wait:.0f} s away (more than an hour)")
        if wait > 0:
            time.sleep(wait)
    workload = registry.SCENARIOS[plan.scenario].client_workload(plan.params)
    try:
        engine = native_engine.resolve(plan.engine)
    except ValueError as exc:
        raise UsageError(f"--engine {plan.engine}: {exc}") from None
    emit(protocol.READY)                 # --events: checked, engine chosen; the parent's clock starts here
    if plan.loadgen_procs > 1:
        report = run_load_processes(load, workload, plan.loadgen_procs, plan.cpus, emit, engine=engine)
    else:
        report = loadgen_report(run_load(load, workload, emit, engine=engine))
    report.update(scenario=plan.scenario, params=plan.params, target=f"{plan.host}:{plan.port}")
    if plan.events:
        protocol.emit(protocol.RESULT, result=report)
    write_report(report, plan.json)
    if not plan.events and plan.json != "-":
        print(describe_load(report))
    return ExitCode.OK if report["status"] == "ok" else ExitCode.REGRESSION


def write_report(report: dict, destination: str | None) -> None:
    """--json FILE: the report as JSON to FILE, or to stdout for '-'."""
    if destination == "-":
        print(json.dumps(report, indent=2))
    elif destination:
        write_json_atomically(destination, report)


def merge(paths: list[str], destination: str | None) -> int:
    """`merge-load`: one report from the `load --json` files of one run on several hosts."""
    parts = []
    for path in paths:
        try:
            with open(path) as f:
                part = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: not a readable load report ({exc.__class__.__name__})") from None
        if not isinstance(part, dict) or "latency_histogram" not in part or "requests" not in part:
            raise UsageError(f"{path}: not a `concbench load --json` report")
        parts.append(part)
    if len({(p.get("scenario"), p.get("mode"), json.dumps(p.get("params"), sort_keys=True)) for p in parts}) > 1:
        raise UsageError("the reports are of different scenarios, parameters or load modes")
    merged = merge_reports(parts)
    write_report(merged, destination)
    if destination != "-":
        print(describe_load(merged))
    return ExitCode.OK if merged["status"] == "ok" else ExitCode.REGRESSION


def describe_load(report: dict) -> str:
    offered = (f" of {report['offered_rate']:,.0f} offered ({report['arrival']}"
               f"{', OVERLOADED' if report['overloaded'] else ''})" if report.get("offered_rate") else "")
    line = (f"{report['status']}: {report['throughput_rps']:,.0f} req/s{offered}, "
            f"p50 {report['latency_p50_s'] * 1e3:.3f} ms, p99 {report['latency_p99_s'] * 1e3:.3f} ms, "
            f"{report['requests']:,} verified replies in {report['window_s']:.2f} s, "
            f"{report['errors']} errors, load generator CPU {report['loadgen_cpu_pct']:.0f}% "
            f"({report.get('engine', 'uvloop')} engine)")
    if report.get("offered_rate"):
        line += (f"\nlatency from the intended send time (corrected) p99 {report['latency_p99_s'] * 1e3:.3f} ms, "
                 f"max {report['latency_max_s'] * 1e3:.3f} ms; from the actual send (uncorrected) "
                 f"p99 {report['latency_uncorrected_p99_s'] * 1e3:.3f} ms, max "
                 f"{report['latency_uncorrected_max_s'] * 1e3:.3f} ms; our timer's lateness p99 "
                 f"{report['schedule_lateness_p99_s'] * 1e3:.3f} ms (not charged to the server)")
    if report.get("first_error"):
        line += f"\nfirst error: {report['first_error']}"
    if report.get("starved_connections"):
        line += f"\nstarved connections (no reply at all): {report['starved_connections']} of {report['connections']}"
    return line
