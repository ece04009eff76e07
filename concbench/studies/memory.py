"""`concbench memory`: what one idle connection costs each runner, process pages and kernel memory apart.

It owns the sequence (fresh server, warm connections, baseline, levels of idle connections held by
concbench.clients.idle, settling, sampling), the least-squares fit (slope = bytes per connection, intercept =
fixed cost) and the open-file check. Result files: concbench.results.format; table and chart: analysis.memory.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path

from concbench import fairness, registry
from concbench.analysis.memory import human_bytes, memory_table, write_memory_chart
from concbench.clients.idle import HolderFailed, IdleHolder
from concbench.errors import UsageError
from concbench.harness.kernel_memory import COMPONENTS, new_meter
from concbench.harness.sampling import process_tree, tree_memory
from concbench.clients.native_engine import loadgen_engine
from concbench.harness.server_process import ServerFailed, ServerProcess
from concbench.results.format import load_measurements, memory_runs
from concbench.results.kinds import MEMORY
from concbench.results.run_file import RunFile, slot_of
from concbench.studies.pipeline import (Study, announce, failed_every_repetition, file_context, output_path,
                                        plan_identity, rotated, run_study, stamp)
from concbench.studies.plans import MemoryPlan
from concbench.studies.profiles import PROFILES

PER_LEVEL_SERVER = set(registry.with_capability("worker_per_connection"))   # a server per level, workers=level
FD_MARGIN = 64                      # listener, pipes, logs, imports: the descriptors besides connections
SETTLE_S = 1.0                      # wait after the last connection, then sample until stable
SETTLE_STEP_S = 0.25
SETTLE_MAX_S = 5.0
STABLE_FRACTION = 0.005             # two successive samples within 0.5% (RSS and PSS): settled
CALIBRATION_PAIRS = 1000
OPEN_TIMEOUT_S = 90.0               # bound on opening one level's connections
SERVER_ENV = {"MALLOC_ARENA_MAX": "2"}
PROCESS_KINDS = ("rss", "uss", "pss", "vms")
KINDS = PROCESS_KINDS + ("kernel",)  # each gets a fit: <kind>_per_connection_bytes, <kind>_fixed_bytes
BENCHMARK = MEMORY.benchmark       # what marks its records (concbench.results.kinds)


def fit_line(xs, ys) -> tuple[float, float]:
    """Least-squares (slope, intercept) of ys against xs; ValueError with fewer than two distinct xs."""
    if len(set(xs)) < 2:
        raise ValueError("a fit needs at least two different connection counts")
    slope, intercept = statistics.linear_regression(xs, ys)
    return slope, intercept


def open_files_needed(levels, warm: int) -> int:
    return max(levels) + warm + FD_MARGIN


def check_open_files(levels, warm: int, limit: int) -> None:
    """Refuse, before anything starts, a level the open-file limit cannot hold (client and server each need one fd per connection)."""
    needed = open_files_needed(levels, warm)
    if needed > limit:
        fitting = max(1, limit - warm - FD_MARGIN)
        raise UsageError(f"{max(levels)} connections need {needed} open files; the hard limit is {limit}: "
                         f"raise it with ulimit -Hn or /etc/security/limits.conf, or use --levels up to {fitting}")


def settled_sample(pid: int) -> tuple[dict, float]:
    """Wait SETTLE_S, then sample every SETTLE_STEP_S until RSS and PSS stop moving (bounded by SETTLE_MAX_S)."""
    started = time.monotonic()
    time.sleep(SETTLE_S)
    previous = tree_memory(process_tree(pid))
    while time.monotonic() - started < SETTLE_MAX_S:
        time.sleep(SETTLE_STEP_S)
        current = tree_memory(process_tree(pid))
        if all(abs(current[k] - previous[k]) <= STABLE_FRACTION * max(previous[k], 1) for k in ("rss", "pss")):
            return current, time.monotonic() - started
        previous = current
    return previous, time.monotonic() - started


def calibrate(meter, cpus) -> dict:
    """Client-only calibration (meminfo method): the kernel cost of one client socket, from a throwaway holder."""
    with IdleHolder(cpus) as holder:
        figures = meter.calibrate(lambda n: holder.ask(f"pairs {n}"), CALIBRATION_PAIRS)
        holder.ask("close")
    return figures


class MeasurementFailed(Exception):
    """A repetition that gives no figure; kind is its error kind (concbench.results.run_file.BROKEN_KINDS: broken)."""

    def __init__(self, message: str, kind: str = "connect"):
        super().__init__(message)
        self.kind = kind


def hold(holder: IdleHolder, server, count: int) -> None:
    answer = holder.open(server.host, server.port, count, OPEN_TIMEOUT_S)
    if answer.get("failed"):
        raise MeasurementFailed(f"{answer['failed']} of {count} connections failed their echo: {answer['first_error']}")
    if not server.alive():
        raise MeasurementFailed(f"server died while connections opened: {server.last_words()}", "server_died")


def point(server, holder, meter, held: int) -> dict:
    sample, settle_s = settled_sample(server.pid)
    kernel = meter.server_share(holder.pid, held)
    return {"held": held, **{k: sample[k] for k in PROCESS_KINDS}, "threads": sample["threads"],
            "processes": sample["processes"], "kernel": sum(kernel.values()),
            **{f"kernel_{k}": kernel[k] for k in COMPONENTS}, "settle_s": settle_s}


def measure_shared_server(start_server, levels, warm, meter, cpus) -> tuple[dict, list[dict]]:
    """One server for every level: warm connections, baseline, then levels held cumulatively."""
    server = start_server(None)
    try:
        meter.attach([p.pid for p in process_tree(server.pid)])
        with IdleHolder(cpus) as holder:
            if warm:
                hold(holder, server, warm)
            time.sleep(0.5)
            meter.take_baseline(holder.pid, warm)
            baseline = point(server, holder, meter, warm)
            points, held = [], warm
            for level in levels:
                hold(holder, server, warm + level - held)
                held = warm + level
                points.append(point(server, holder, meter, held))
            if not server.alive():
                raise MeasurementFailed(f"server died: {server.last_words()}", "server_died")
    finally:
        server.stop()
    return baseline, points


def measure_server_per_level(start_server, levels, meter, cpus) -> tuple[dict, list[dict]]:
    """A fresh server per level with one worker per connection; kernel baseline taken before it starts."""
    points, baseline = [], {}
    for level in levels:
        with IdleHolder(cpus) as holder:
            meter.take_baseline(holder.pid, 0)
            server = start_server(level)
            try:
                meter.attach([p.pid for p in process_tree(server.pid)])
                time.sleep(0.5)
                baseline = baseline or point(server, holder, meter, 0)
                hold(holder, server, level)
                points.append(point(server, holder, meter, level))
            finally:
                server.stop()
    return baseline, points


def summarize(baseline: dict, points: list[dict], levels, warm: int) -> dict:
    """The record of one repetition: figures per level and the fit of each kind against connections held."""
    xs = [p["held"] for p in points]
    record = {"status": "ok", "memory_levels": ",".join(map(str, levels)), "warm_connections": warm,
              "connections_held": ",".join(map(str, xs)),
              "settle_s_at_levels": ",".join(f"{p['settle_s']:.2f}" for p in points),
              "server_processes": max(p["processes"] for p in points)}
    for kind in KINDS + ("threads",) + tuple(f"kernel_{k}" for k in COMPONENTS):
        record[f"{kind}_at_levels"] = ",".join(str(int(p[kind])) for p in points)
        record[f"baseline_{kind}"] = int(baseline.get(kind, 0))
    for kind in KINDS + ("threads",):
        slope, intercept = fit_line(xs, [p[kind] for p in points])
        suffix = "" if kind == "threads" else "_bytes"
        record[f"{kind}_per_connection{suffix}"] = slope
        record[f"{kind}_fixed{suffix}"] = intercept
    return record


def measure_runner(runner: str, levels, warm, options: dict, server_cpus, loadgen_cpus,
                   start_server=None) -> dict:
    """One repetition for one runner; failures become a failed record, never a figure."""
    per_level = runner in PER_LEVEL_SERVER

    def start_registered(workers):
        chosen = {**options, **({"workers": str(workers)} if workers else {})}
        return ServerProcess(runner, "echo", {"size": 64}, server_cpus, chosen, env=SERVER_ENV).start()

    start_server = start_server or start_registered
    meter = new_meter()
    record: dict = {"kernel_method": meter.method}
    try:
        client = calibrate(meter, loadgen_cpus)
        if client:
            record["kernel_client_socket_bytes"] = int(sum(client.values()))
        if per_level:
            baseline, points = measure_server_per_level(start_server, levels, meter, loadgen_cpus)
            warm = 0
        else:
            baseline, points = measure_shared_server(start_server, levels, warm, meter, loadgen_cpus)
        record.update(summarize(baseline, points, levels, warm))
        record["memory_mode"] = "server per level, workers=connections" if per_level else "one server, levels cumulative"
    except (MeasurementFailed, ServerFailed, HolderFailed, ValueError) as exc:
        # a server that cannot start or dies, a holder or fit that fails: the runner (or harness) is broken; connections
        # that fail their echo are a limit measured
        record.update(status="failed", first_error=str(exc), errors=1,
                      error_kinds={getattr(exc, "kind", "harness"): 1})
    finally:
        meter.close()
    return record


def levels_of(plan: MemoryPlan, runner: str) -> tuple[int, ...]:
    return plan.process_levels if runner in PER_LEVEL_SERVER else plan.levels


def format_outcome(record: dict) -> str:
    if record["status"] != "ok":
        return f"FAILED: {record.get('first_error', '')}"
    return ("per connection: " + "  ".join(f"{k} {human_bytes(record[f'{k}_per_connection_bytes'])}" for k in KINDS)
            + f"  threads {record['threads_per_connection']:.2f}")


def slot(rep: int, runner: str) -> str:
    return slot_of(rep, f"memory/idle/{runner}")


def run(plan: MemoryPlan) -> int:
    """The whole `concbench memory` through the pipeline: runners in rotated order, one record per repetition
    (every level, fitted), the file rewritten after each; then the table and chart. Resumable (--resume)."""
    runners = list(plan.runners)
    per_level = set(runners) & PER_LEVEL_SERVER
    for chosen in ([plan.levels] if set(runners) - per_level else []) + ([plan.process_levels] if per_level else []):
        if len(chosen) < 2:
            raise UsageError("the fit needs at least two levels (e.g. --levels 1000 5000)")
    limit = fairness.raise_open_file_limit()
    check_open_files(plan.levels if set(runners) - PER_LEVEL_SERVER else plan.process_levels, plan.warm, limit)
    order = [(rep, runner) for rep in range(plan.repetitions) for runner in rotated(runners, rep)]
    plan_id = plan_identity([slot(rep, runner) for rep, runner in order], {
        "levels": plan.levels, "process_levels": plan.process_levels, "warm": plan.warm, "options": plan.options,
        "server_cpus": plan.server_cpus, "loadgen_cpus": plan.loadgen_cpus})
    destination = plan.destination
    output = output_path("memory", destination, Path("results") / f"memory-{stamp()}.json", len(order), plan_id)
    fairness.pin_to_cpus(plan.loadgen_cpus)        # the harness's own sampling stays off the server's core
    profile = replace(PROFILES["default"], name="memory", connections=plan.levels, warmup_s=0.0, window_s=0.0,
                      repetitions=plan.repetitions, max_repetitions=None, stability_budget_s=0.0)
    context = file_context(profile, runners, ["echo"], plan, plan_id, len(order),
                           malloc_arena_max=SERVER_ENV["MALLOC_ARENA_MAX"] + " (server)",
                           memory_process_levels=",".join(map(str, plan.process_levels)), open_file_limit=limit)
    print(f"concbench memory: {len(runners)} runners x {plan.repetitions} repetitions; levels "
          f"{','.join(map(str, plan.levels))} idle connections (processes: {','.join(map(str, plan.process_levels))}) "
          f"after {plan.warm} warm; server on cpu {','.join(map(str, plan.server_cpus))}, idle holder on cpu "
          f"{','.join(map(str, plan.loadgen_cpus))}", flush=True)
    announce(destination, output, len(order))
    started = time.monotonic()

    def measure(runner: str) -> dict:
        record = measure_runner(runner, levels_of(plan, runner), plan.warm, plan.options.get(runner, {}),
                                plan.server_cpus, plan.loadgen_cpus)
        return {**record, "benchmark": BENCHMARK}

    def conclude(measurements) -> int:
        print(f"\nfinished in {time.monotonic() - started:.0f} s; results: {output}\n")
        print(memory_table(output))
        if not destination.no_report:
            print(f"\nchart: {write_memory_chart(output)}")
        return failed_every_repetition("memory", load_measurements(output))

    writer = RunFile(output, context, len(order), destination.previous, runs=memory_runs)
    return run_study(Study("memory", order, measure, slot,
                           lambda rep, runner: f"rep {rep + 1}/{plan.repetitions} {runner:<20}", format_outcome,
                           writer, conclude, resumable=True))
