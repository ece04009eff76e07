"""Repetitions until stable: the order of a run's measurements, grown while it runs. The first rounds (the
minimum) are as orchestrate.schedule orders them; then rounds of only the cases whose figure is not yet
stable (analysis.verdicts' stop rule), up to the maximum and within a time budget for the extra rounds.

It measures nothing: it reads the records the run loop appends to `measurements` and a clock (injectable,
so tests use fake ones). It also marks each record with its case's stability for the result file.
"""
from __future__ import annotations

import time
from collections import defaultdict

from concbench.analysis.verdicts import UNSTABLE_HINT, is_stable, relative_half_width


def case_key(case) -> tuple:
    return (case.scenario, case.params, case.connections, case.runner, case.rate, case.slow_clients)


def passing_figures(measurements, key: str = "throughput_rps") -> dict[tuple, list[float]]:
    """case key -> the throughput of its repetitions that passed so far."""
    figures: dict[tuple, list[float]] = defaultdict(list)
    for case, record in measurements:
        figures[case_key(case)]  # every case measured has an entry, failed ones too
        if record.get("status") == "ok" and record.get(key):
            figures[case_key(case)].append(float(record[key]))
    return figures


def needs_more(case, figures: list[float], failed_any: bool) -> bool:
    """A case gets another repetition when its figure is unstable. Open-loop cases (throughput is the
    offered rate) and cases with a failed repetition (their failure is the finding) do not."""
    if case.rate or failed_any:
        return False
    return not is_stable(figures)


class RepetitionPlan:
    """Iterable of (repetition, case) for the run loop; len() is the number planned so far (it grows)."""

    def __init__(self, cases, minimum: int, maximum: int, budget_s: float, measurements: list,
                 order, clock=time.monotonic):
        """order(cases, repetitions) -> [(rep, case)]: the interleaved, rotated schedule."""
        self.cases, self.minimum, self.maximum, self.budget_s = list(cases), minimum, max(maximum, minimum), budget_s
        self.measurements, self.order, self.clock = measurements, order, clock
        self.planned = self.order(self.cases, minimum)
        self.extra_rounds = 0
        self.stopped_by = ""            # why the extra rounds ended: "stable", "maximum", "time budget", ""

    def __len__(self) -> int:
        return len(self.planned)

    def unsettled(self) -> list:
        """The cases to measure again: every case of a level (scenario, parameters, connections) where one
        runner's figure is unstable, so the round stays interleaved and the verdicts stay paired."""
        figures = passing_figures(self.measurements)
        failed = {case_key(c) for c, r in self.measurements if r.get("status") != "ok"}
        open_levels = {case_key(c)[:3] + case_key(c)[4:] for c in self.cases
                       if needs_more(c, figures[case_key(c)], case_key(c) in failed)}
        return [c for c in self.cases if case_key(c)[:3] + case_key(c)[4:] in open_levels
                and case_key(c) not in failed]

    def worst_first(self, items: list) -> list:
        """A round's items with the least settled levels first (so a time budget goes where it is most
        needed); within a level, the interleaved, rotated order is kept."""
        figures = passing_figures(self.measurements)
        width: dict = {}
        for _, case in items:
            level = case_key(case)[:3] + case_key(case)[4:]
            width[level] = max(width.get(level, 0.0), relative_half_width(figures[case_key(case)]))
        return sorted(items, key=lambda item: -width[case_key(item[1])[:3] + case_key(item[1])[4:]])

    def __iter__(self):
        started = self.clock()
        yield from list(self.planned)
        if self.maximum <= self.minimum:
            return
        yielded = len(self.planned)
        per_measurement = (self.clock() - started) / max(yielded, 1)
        extra_started = self.clock()
        for rep in range(self.minimum, self.maximum):
            todo = self.unsettled()
            if not todo:
                self.stopped_by = "stable"
                return
            this_round = self.worst_first([(r, c) for r, c in self.order(todo, rep + 1) if r == rep])
            self.planned = self.planned + this_round
            self.extra_rounds += 1
            for item in this_round:
                if self.clock() - extra_started + per_measurement > self.budget_s:
                    self.stopped_by = "time budget"
                    self.planned = self.planned[:yielded]
                    return
                yielded += 1
                yield item
        self.stopped_by = "maximum" if self.unsettled() else "stable"

    def describe(self) -> str:
        """One line for the end of a run: how the stop rule ended."""
        if self.maximum <= self.minimum:
            return f"{self.minimum} repetitions (fixed: no stop rule)"
        words = {"stable": "every case stable", "maximum": f"the maximum of {self.maximum} repetitions reached",
                 "time budget": f"the {self.budget_s:g} s budget for extra repetitions spent", "": "not finished"}
        return (f"repetitions {self.minimum} to {self.maximum} until stable: {self.extra_rounds} extra round(s), "
                f"ended by {words[self.stopped_by]}")


def mark_stability(measurements) -> int:
    """Write each record's case stability into it (for the result file); returns how many cases are unstable."""
    figures = passing_figures(measurements)
    unstable = set()
    for case, record in measurements:
        values = figures[case_key(case)]
        if len(values) < 2 or case.rate:
            continue
        record["case_interval_half_width"] = relative_half_width(values)
        record["case_unstable"] = not is_stable(values)
        if record["case_unstable"]:
            record["case_stability_hint"] = UNSTABLE_HINT
            unstable.add(case_key(case))
    return len(unstable)
