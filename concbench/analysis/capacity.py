"""Capacity at a latency target: the highest offered rate a runner kept up with while p99 stayed under it.

Read from open-loop measurements in a result file (a --rates sweep or a --rate-search); per
repetition, then median and spread. A probe counts only if it passed, was not overloaded
(achieved >= 99% of offered) and its corrected p99 met the target.
"""
from __future__ import annotations

import statistics
from collections import defaultdict

from concbench.results.format import load_measurements


def meets_target(record: dict, target_s: float) -> bool:
    return (record["status"] == "ok" and not record.get("overloaded")
            and record.get("latency_p99_s", float("inf")) <= target_s)


def capacities(records: list[dict], target_s: float | None = None) -> dict[tuple, dict]:
    """(scenario, params, connections, runner) -> {'per_repetition': [...], 'median', 'low', 'high', 'target_s'}."""
    probes: dict[tuple, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if not record.get("offered_rate"):
            continue
        params = tuple(sorted((k[len("param_"):], v) for k, v in record.items() if k.startswith("param_")))
        key = (record["scenario"], params, record["offered_connections"], record["runner"])
        probes[key][record["repetition"]].append(record)
    result = {}
    for key, by_rep in probes.items():
        target = target_s if target_s is not None else next(iter(by_rep.values()))[0].get("p99_target_s", 0.010)
        per_rep = []
        for rep in sorted(by_rep):
            passing = [r["offered_rate"] for r in by_rep[rep] if meets_target(r, target)]
            per_rep.append(max(passing) if passing else 0.0)
        result[key] = {"per_repetition": per_rep, "median": statistics.median(per_rep),
                       "low": min(per_rep), "high": max(per_rep), "target_s": target,
                       "probes": sum(len(v) for v in by_rep.values())}
    return result


def capacity_table(path, target_s: float | None = None) -> str:
    found = capacities(load_measurements(path), target_s)
    if not found:
        return "no open-loop measurements in this file (run with --rates or --rate-search)"
    lines = [f"{'scenario':<18} {'conns':>5} {'runner':<20} {'capacity req/s median (min-max)':>34} "
             f"{'p99 target':>10} {'probes':>6}"]
    for (scenario, params, connections, runner), row in sorted(found.items()):
        label = scenario + "".join(f" {k}={v}" for k, v in params)
        figure = (f"{row['median']:>12,.0f} ({row['low']:>9,.0f}-{row['high']:>9,.0f})"
                  if row["high"] else f"{'none met the target':>34}")
        lines.append(f"{label:<18} {connections:>5} {runner:<20} {figure:>34} "
                     f"{row['target_s'] * 1e3:>8g}ms {row['probes']:>6}")
    lines.append("capacity: the highest offered rate (open loop) that passed, kept up (achieved >= 99% of offered) "
                 "and kept the corrected p99 under the target; per repetition, then median (min-max).")
    return "\n".join(lines)
