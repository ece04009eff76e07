"""Ordering runners honestly: by median throughput, but runners whose spreads overlap are not ranked
against each other ("no clear difference"). Reads records only.
"""
from __future__ import annotations

import statistics

from .cases import group_cases
from .table import case_label


def tiers(figures: dict[str, list[float]]) -> list[list[str]]:
    """Runners in tiers, best first: a runner joins the current tier when its range overlaps the range
    of any runner already in it; a new tier starts only when the ranges are clearly apart."""
    ordered = sorted(figures, key=lambda r: statistics.median(figures[r]), reverse=True)
    result: list[list[str]] = []
    tier_low = None
    for runner in ordered:
        low, high = min(figures[runner]), max(figures[runner])
        if result and high >= tier_low:
            result[-1].append(runner)
            tier_low = min(tier_low, low)
        else:
            result.append([runner])
            tier_low = low
    return result


def ranking_lines(records: list[dict]) -> list[str]:
    """One line per (scenario, params, connections): 'a > b = c > d' where '=' means no clear difference."""
    by_case: dict[tuple, dict[str, list[float]]] = {}
    for (scenario, params, connections, runner), reps in group_cases(records).items():
        passed = [r["throughput_rps"] for r in reps if r["status"] == "ok"]
        if passed:
            by_case.setdefault((scenario, params, connections), {})[runner] = passed
    lines = []
    for (scenario, params, connections), figures in sorted(by_case.items()):
        text = " > ".join(" = ".join(tier) for tier in tiers(figures))
        lines.append(f"{case_label(scenario, params)} c={connections}: {text}")
    return lines


def ranking_text(records: list[dict]) -> str:
    lines = ranking_lines(records)
    if not lines:
        return ""
    return ("Throughput order (median; '=' joins runners whose min-max ranges overlap: no clear difference, "
            "not ranked against each other):\n" + "\n".join(lines))
