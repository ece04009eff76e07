"""Several load-generator processes for one run (`--loadgen-procs N`), when one core is not enough.

It owns splitting a plan across forked processes, lining up their load phases with a barrier,
and merging their reports (concbench.results.measurement.merge_reports). Each process runs the ordinary
load generator (either engine, concbench.clients.loadgen.run_load) on its share of the connections and of the rate, pinned to one of the given cpus.
The processes are forked, not started by concbench.harness: they share the plan, the workload and the barrier,
as a server's workers share its listener. Their lifetime is still the harness's: they live in the process group of
the `concbench load` child that forks them, which concbench.harness.child stops as a whole, and they are daemonic,
so a parent that fails takes them with it.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import replace

from concbench import fairness
from concbench.clients.loadgen import run_load
from concbench.clients.plan import LoadPlan
from concbench.results.measurement import loadgen_report, merge_reports

BARRIER_SLACK_S = 10.0


def split_plan(plan: LoadPlan, procs: int) -> list[LoadPlan]:
    """Connections (and the rate, in proportion) divided as evenly as possible."""
    if procs > plan.connections:
        raise ValueError(f"{procs} load-generator processes need at least as many connections, got {plan.connections}")
    shares = [plan.connections // procs + (1 if i < plan.connections % procs else 0) for i in range(procs)]
    return [replace(plan, connections=share,
                    rate=plan.rate * share / plan.connections if plan.rate else None) for share in shares]


def _child(plan: LoadPlan, workload, cpu, barrier, results, use_uvloop: bool, engine: str | None):
    fairness.pin_to_cpus((cpu,) if cpu is not None else None)
    met = []

    def on_event(name):
        if name == "connected":
            met.append(True)
            barrier.wait()              # every process starts loading at the same moment

    try:
        outcome = run_load(plan, workload, on_event, use_uvloop, engine=engine)
        if not met:
            barrier.wait()              # no connection at all: still release the others
        results.put(loadgen_report(outcome))
    except Exception as exc:            # reported, never lost
        if not met:
            barrier.abort()
        results.put({"child_error": f"{type(exc).__name__}: {exc}"})


def run_load_processes(plan: LoadPlan, workload, procs: int, cpus, on_event, use_uvloop: bool = True,
                       engine: str | None = None) -> dict:
    """Run the plan across `procs` forked processes; returns the merged report."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(procs + 1, timeout=plan.connect_timeout_s + plan.timeout_s + BARRIER_SLACK_S)
    results = context.Queue()
    cpus = list(cpus) if cpus else sorted(os.sched_getaffinity(0))
    children = [context.Process(target=_child, args=(part, workload, cpus[i % len(cpus)], barrier, results, use_uvloop,
                                                          engine), daemon=True)
                for i, part in enumerate(split_plan(plan, procs))]
    for child in children:
        child.start()
    try:
        barrier.wait()
        on_event("connected")
        time.sleep(plan.warmup_s)
        on_event("window_start")
        time.sleep(plan.duration_s)
        on_event("window_end")
    except multiprocessing.BrokenBarrierError:
        pass
    parts = [results.get(timeout=plan.timeout_s * 2 + plan.warmup_s + plan.duration_s + 60) for _ in children]
    for child in children:
        child.join()
    failures = [p["child_error"] for p in parts if "child_error" in p]
    if failures:
        raise RuntimeError(f"a load-generator process failed: {failures[0]}")
    merged = merge_reports(parts)
    return merged
