"""`concbench backpressure`: the stream scenario with F fast and S slow readers, per runner: fast-reader MB/s
and the server's peak memory, to show which runners bound memory under slow readers and which do not.

It owns the sequence (fresh server per measurement, the stream client in its own process, server memory
sampled every 50 ms over warm-up and window, server CPU over the window) and the memory-budget refusal. The loop,
the file and --resume are concbench.studies.pipeline's; table and chart: concbench.analysis.backpressure.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil

from concbench import cpu, fairness, registry
from concbench.analysis.backpressure import backpressure_table, write_backpressure_chart
from concbench.errors import UsageError
from concbench.harness.event_child import run_event_child
from concbench.harness.sampling import process_tree, tree_cpu_seconds, tree_memory
from concbench.clients.native_engine import loadgen_engine
from concbench.harness.server_process import ServerFailed, ServerProcess
from concbench.results.format import load_measurements, stream_runs
from concbench.results.kinds import BACKPRESSURE
from concbench.results.run_file import RunFile, slot_of
from concbench.studies.pipeline import (Study, announce, failed_every_repetition, file_context, output_path,
                                        plan_identity, rotated, run_study, stamp)
from concbench.studies.plans import GIB, BackpressurePlan
from concbench.studies.profiles import PROFILES

BENCHMARK = BACKPRESSURE.benchmark     # what marks its records (concbench.results.kinds)
SAMPLE_INTERVAL_S = 0.05
QUEUE_FACTOR = 1.125             # a queued payload's buffer: asyncio's bytearray over-allocates by 1/8
# plus one transient copy of a whole payload (Twisted joins its queued chunks into one bytes before sending)
SERVER_ALLOWANCE = 512 << 20     # what any server may take besides queued payloads
SERVER_ENV = {"MALLOC_ARENA_MAX": "2"}


def is_unbounded(runner: str) -> bool:
    return registry.RUNNERS[runner].has("unbounded_writes")


def worst_case_bytes(runner: str, fast: int, slow: int, size: int) -> int:
    """An unbounded server may queue a whole payload per open connection; a bounded one a few chunks."""
    queued = ((fast + slow) * QUEUE_FACTOR + 1) * size if is_unbounded(runner) else 0
    return int(queued + SERVER_ALLOWANCE)


def check_memory(runners, fast: int, levels, size: int, budget: int, available: int) -> None:
    """Refuse, before anything starts, a plan whose worst case exceeds the budget or the memory available."""
    limit = min(budget, available)
    worst = max(runners, key=lambda r: worst_case_bytes(r, fast, max(levels), size))
    need = worst_case_bytes(worst, fast, max(levels), size)
    if need <= limit:
        return
    fitting = [s for s in range(max(levels) + 1) if worst_case_bytes(worst, fast, s, size) <= limit]
    what = "the budget (--memory-budget)" if budget <= available else "the memory available now"
    hint = f"use --slow up to {fitting[-1]}" if fitting else "use a smaller --size or fewer --fast readers"
    raise UsageError(f"worst case {worst} with {fast} fast + {max(levels)} slow readers of {size / (1 << 20):g} MiB "
                     f"may queue about {need / GIB:.1f} GiB, over {what} of {limit / GIB:.1f} GiB: {hint}, "
                     f"a smaller --size, or drop the unbounded runners")


class PeakSampler:
    """Server memory (whole process tree) every SAMPLE_INTERVAL_S in a background thread: peaks, and a kill
    switch that SIGKILLs the server's process group (ours, by pid) if its RSS passes the budget."""

    def __init__(self, server: ServerProcess, budget: int):
        self.server, self.budget = server, budget
        self.peak = {"rss": 0, "uss": 0, "pss": 0, "threads": 0, "processes": 0}
        self.samples = 0
        self.over_budget = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="peak-sampler", daemon=True)

    def sample(self) -> dict:
        memory = tree_memory(process_tree(self.server.pid))
        for key in self.peak:
            self.peak[key] = max(self.peak[key], memory[key])
        self.samples += 1
        if memory["rss"] > self.budget and not self.over_budget:
            self.over_budget = True
            self.server.kill()               # its own process group, started by us
        return memory

    def _loop(self):
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self.sample()

    def start(self) -> dict:
        baseline = self.sample()
        self._thread.start()
        return baseline

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def run_client(port: int, params: dict, fast: int, slow: int, settings: dict, loadgen_cpus, on_event) -> dict:
    """The stream client in its own process (pinned to the load generator's cpus); its report or a failure."""
    command = [sys.executable, "-m", "concbench.cli.children", "stream-client", "--target", f"127.0.0.1:{port}",
               "--size", str(params["size"]), "--fast", str(fast), "--slow", str(slow),
               "--slow-rate", repr(settings["slow_rate"]), "--slow-rcvbuf", str(settings["slow_rcvbuf"]),
               "--warmup", repr(settings["warmup_s"]), "--window", repr(settings["window_s"]), "--events"]
    if loadgen_cpus:
        command += ["--cpus", ",".join(map(str, loadgen_cpus))]
    deadline_s = settings["warmup_s"] + settings["window_s"] + 60.0
    result, reason = run_event_child(command, deadline_s, on_event, "stream client")
    return result if result is not None else failed_record(reason)


def failed_record(reason: str) -> dict:
    return {"status": "failed", "first_error": reason, "errors": 1, "error_kinds": {"harness": 1}}


def measure(runner: str, params: dict, fast: int, slow: int, settings: dict, options: dict,
            server_cpus, loadgen_cpus) -> dict:
    """One measurement with a fresh server; failures become a failed record, never a figure."""
    options = dict(options)
    if registry.RUNNERS[runner].has("worker_per_connection") and "workers" not in options:
        options["workers"] = str(fast + slow)     # one worker per reader, or the rest would starve
    try:
        server = ServerProcess(runner, "stream", params, server_cpus, options, env=SERVER_ENV).start()
    except ServerFailed as exc:
        return failed_record(f"server: {exc}")
    sampler = PeakSampler(server, settings["budget"])
    window: dict = {}
    baseline = {"rss": 0}

    def on_event(name):
        tree = process_tree(server.pid)
        window[name] = (tree_cpu_seconds(tree), cpu.read_cores(), time.monotonic())

    try:
        baseline = sampler.start()
        record = run_client(server.port, params, fast, slow, settings, loadgen_cpus, on_event)
        sampler.stop()
        if sampler.over_budget:
            record = failed_record(f"server passed the memory budget ({settings['budget'] / GIB:.1f} GiB RSS) "
                                   f"and was killed")
        elif not server.alive():
            record = failed_record(f"server died during the run: {server.last_words()}")
    finally:
        sampler.stop()
        server.stop()
    record.update({
        "server_peak_rss_bytes": sampler.peak["rss"], "server_peak_uss_bytes": sampler.peak["uss"],
        "server_peak_pss_bytes": sampler.peak["pss"], "server_baseline_rss_bytes": baseline["rss"],
        "server_threads": sampler.peak["threads"], "server_processes": sampler.peak["processes"],
        "memory_samples": sampler.samples, "sample_interval_s": SAMPLE_INTERVAL_S,
        "stream_chunk": params["chunk"], "stream_size": params["size"],
        "fast_readers": fast, "slow_readers": slow,
    })
    if options.get("workers"):
        record["processes_workers"] = int(options["workers"])
    if "window_start" in window and "window_end" in window:
        (cpu0, cores0, t0), (cpu1, cores1, t1) = window["window_start"], window["window_end"]
        record.update(server_cpu_s=cpu1 - cpu0, server_cpu_pct=100.0 * (cpu1 - cpu0) / max(t1 - t0, 1e-9))
        if server_cpus:
            record["server_core_busy_pct"] = cpu.busy_pct(cores0, cores1, server_cpus)
    return record


def settings(plan: BackpressurePlan) -> dict:
    return {"slow_rate": plan.slow_rate, "slow_rcvbuf": plan.slow_rcvbuf, "warmup_s": plan.warmup_s,
            "window_s": plan.window_s, "budget": plan.budget_bytes}


def format_outcome(record: dict) -> str:
    peak = f"peak RSS {record.get('server_peak_rss_bytes', 0) / (1 << 20):,.0f} MiB"
    if record["status"] != "ok":
        return f"FAILED: {record.get('first_error', '')} ({peak})"
    starved = f", {record['starved_connections']} starved" if record.get("starved_connections") else ""
    slow = (f"slow median {record['slow_rate_median_b_s'] / 1e6:.2f} MB/s, " if record.get("slow_readers") else "")
    return (f"fast {record['fast_mb_s']:,.0f} MB/s, {slow}{peak}, server cpu {record.get('server_cpu_pct', 0):.0f}%, client core "
            f"{record['loadgen_core_busy_pct']:.0f}%{starved}")


def print_header(plan: BackpressurePlan) -> None:
    params = plan.params
    print(f"concbench backpressure: {len(plan.runners)} runners x {len(plan.levels)} slow-reader levels "
          f"({','.join(map(str, plan.levels))}) x {plan.repetitions} repetitions; {plan.fast} fast readers, slow "
          f"readers at {plan.slow_rate / (1 << 20):g} MiB/s; payload {params['size'] / (1 << 20):g} MiB in "
          f"{params['chunk'] / 1024:g} KiB writes; warm-up {plan.warmup_s:g} s, window {plan.window_s:g} s; server "
          f"on cpu {','.join(map(str, plan.server_cpus))}, client on cpu {','.join(map(str, plan.loadgen_cpus))}",
          flush=True)


def run(plan: BackpressurePlan) -> int:
    """The whole `concbench backpressure` through the pipeline: per repetition, per slow-reader level, the runners in
    rotated order, a fresh server each; the file rewritten after each; then the table and chart. Resumable."""
    runners, params, destination = list(plan.runners), plan.params, plan.destination
    check_memory(runners, plan.fast, plan.levels, params["size"], plan.budget_bytes,
                 psutil.virtual_memory().available)
    limit = fairness.raise_open_file_limit()
    if plan.fast + max(plan.levels) + 64 > limit:
        raise UsageError(f"{plan.fast + max(plan.levels)} readers need more open files than the limit ({limit})")
    order = [(rep, (slow, runner)) for rep in range(plan.repetitions) for slow in plan.levels
             for runner in rotated(runners, rep)]

    def slot(rep: int, cell) -> str:
        slow, runner = cell
        return slot_of(rep, f"stream/size={params['size']}/fast={plan.fast}/slow={slow}/{runner}")

    plan_id = plan_identity([slot(rep, cell) for rep, cell in order], {
        "params": params, "settings": settings(plan), "options": plan.options,
        "server_cpus": plan.server_cpus, "loadgen_cpus": plan.loadgen_cpus})
    output = output_path("backpressure", destination, Path("results") / f"backpressure-{stamp()}.json", len(order),
                         plan_id)
    fairness.pin_to_cpus(plan.loadgen_cpus)        # the harness's own sampling stays off the server's core
    profile = replace(PROFILES["default"], name="backpressure", connections=plan.levels, warmup_s=plan.warmup_s,
                      window_s=plan.window_s, repetitions=plan.repetitions, max_repetitions=None,
                      stability_budget_s=0.0)
    context = file_context(profile, runners, ["stream"], plan, plan_id, len(order),
                           malloc_arena_max=SERVER_ENV["MALLOC_ARENA_MAX"] + " (server)",
                           memory_budget_bytes=plan.budget_bytes, sample_interval_s=SAMPLE_INTERVAL_S)
    print_header(plan)
    announce(destination, output, len(order))
    started = time.monotonic()

    def measure_cell(cell) -> dict:
        slow, runner = cell
        record = measure(runner, params, plan.fast, slow, settings(plan), plan.options.get(runner, {}),
                         plan.server_cpus, plan.loadgen_cpus)
        return {**record, "benchmark": BENCHMARK}

    def conclude(measurements) -> int:
        print(f"\nfinished in {time.monotonic() - started:.0f} s; results: {output}\n")
        print(backpressure_table(output))
        if not destination.no_report:
            print(f"\nchart: {write_backpressure_chart(output)}")
        return failed_every_repetition("backpressure", load_measurements(output))

    writer = RunFile(output, context, len(order), destination.previous,
                     runs=lambda ctx, measured: stream_runs(ctx, [(runner, r) for (_, runner), r in measured]))
    return run_study(Study("backpressure", order, measure_cell, slot,
                           lambda rep, cell: f"rep {rep + 1}/{plan.repetitions} slow={cell[0]:<3} {cell[1]:<18}",
                           format_outcome, writer, conclude, resumable=True))
