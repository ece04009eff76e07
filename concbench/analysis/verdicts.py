"""Verdicts with their uncertainty: each runner against the best one as a ratio with a 95% interval, the
stop rule for repetitions (is a case's figure stable?), and one plain sentence per scenario.

Sans-IO and pure: lists of figures or records in, numbers and text out; no files, no printing, no numpy.
Intervals are t-based on the logarithms of the figures (throughput noise is multiplicative), paired by
repetition when both runners were measured in the same rounds (the suite interleaves them), Welch otherwise.
"""
from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

from .cases import group_cases

CONFIDENCE = 0.95
# The stop rule: a case is stable when the 95% interval of its centre lies within +-10% of it.
STABLE_HALF_WIDTH = 0.10
UNSTABLE_HINT = ("unstable: the 95% interval of the median is wider than +-10%; pin the server and load "
                 "generator (--server-cpus/--loadgen-cpus), quieten the machine, or use longer windows "
                 "(--duration) or more repetitions (--max-repetitions)")

# Two-sided 97.5% quantiles of Student's t by degrees of freedom (from the standard tables).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
         10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101,
         19: 2.093, 20: 2.086, 22: 2.074, 24: 2.064, 26: 2.056, 28: 2.048, 30: 2.042, 40: 2.021, 60: 2.000,
         120: 1.980}


def t_quantile(df: float) -> float:
    """Student's t 97.5% quantile for `df` degrees of freedom, rounded down to a tabled df (conservative)."""
    if df < 1:
        return math.inf
    below = [d for d in T_975 if d <= df]
    return T_975[max(below)] if df < 1000 else 1.960


def log_centre_interval(values: list[float]) -> tuple[float, float, float] | None:
    """(centre, low, high): the geometric mean of positive figures and its 95% t-interval (on the logs).
    With log-symmetric noise this is the interval of the median; None with fewer than 2 figures."""
    logs = [math.log(v) for v in values if v > 0]
    if len(logs) < 2:
        return None
    mean, sd = statistics.fmean(logs), statistics.stdev(logs)
    half = t_quantile(len(logs) - 1) * sd / math.sqrt(len(logs))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def relative_half_width(values: list[float]) -> float:
    """How far the 95% interval reaches from its centre, as a fraction (0.10 = within +-10%); inf under 2."""
    interval = log_centre_interval(values)
    if interval is None:
        return math.inf
    centre, _, high = interval
    return high / centre - 1


def is_stable(values: list[float], half_width: float = STABLE_HALF_WIDTH) -> bool:
    """The stop rule: the 95% interval of the centre within +-half_width of it."""
    return relative_half_width(values) <= half_width


@dataclass(frozen=True)
class Ratio:
    """`faster` / `slower` as a ratio of geometric means with its 95% interval."""
    ratio: float
    low: float
    high: float
    paired: bool
    n: int

    @property
    def clear(self) -> bool:
        """A clear difference: the interval does not hold 1."""
        return self.low > 1 or self.high < 1


def ratio_interval(faster: dict[int, float], slower: dict[int, float]) -> Ratio | None:
    """Ratio faster/slower with its 95% interval; inputs are repetition -> figure. Paired on the log
    differences when both were measured in the same repetitions (interleaved rounds), Welch otherwise.
    None when either side has fewer than 2 figures."""
    faster = {k: v for k, v in faster.items() if v > 0}
    slower = {k: v for k, v in slower.items() if v > 0}
    if len(faster) < 2 or len(slower) < 2:
        return None
    if set(faster) == set(slower):
        diffs = [math.log(faster[k]) - math.log(slower[k]) for k in sorted(faster)]
        mean, sd = statistics.fmean(diffs), statistics.stdev(diffs)
        half = t_quantile(len(diffs) - 1) * sd / math.sqrt(len(diffs))
        return Ratio(math.exp(mean), math.exp(mean - half), math.exp(mean + half), True, len(diffs))
    a, b = [math.log(v) for v in faster.values()], [math.log(v) for v in slower.values()]
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    mean = statistics.fmean(a) - statistics.fmean(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1)) + (vb ** 2 / (len(b) - 1))) if se > 0 else len(a) + len(b) - 2
    half = t_quantile(df) * se
    return Ratio(math.exp(mean), math.exp(mean - half), math.exp(mean + half), False, min(len(a), len(b)))


def figure(x: float) -> str:
    """A ratio as hyperfine writes one: '1.90', '0.95', '12.3', '150'."""
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def format_ratio(r: Ratio, against: str = "") -> str:
    """'1.9x gevent (1.6-2.1x)', or '1.9x (1.6-2.1x)' without a name."""
    name = f" {against}" if against else ""
    return f"{figure(r.ratio)}x{name} ({figure(r.low)}-{figure(r.high)}x)"


@dataclass
class LevelVerdict:
    """One scenario, parameters and concurrency level: the best runner and every other one against it."""
    connections: int
    best: str | None
    others: list[tuple[str, Ratio | None]]          # (runner, best/runner); None: too few repetitions
    failed: list[str]                               # runners with no passing repetition
    unstable: list[str]                             # runners whose figure did not settle
    client_bound: list[str]                         # runners whose load generator was the limit

    def clear_over(self) -> list[tuple[str, Ratio]]:
        return [(runner, r) for runner, r in self.others if r is not None and r.clear]

    def ties(self) -> list[str]:
        return [runner for runner, r in self.others if r is not None and not r.clear]

    def line(self) -> str:
        """'asyncio leads: 1.9x gevent (1.6-2.1x), 1.3x threads (1.1-1.5x); no clear difference from uvloop (...)'."""
        if self.best is None:
            return "every runner failed" if self.failed else "no figures"
        parts = [f"{self.best} leads"]
        clear = self.clear_over()
        if clear:
            parts.append(": " + ", ".join(format_ratio(r, runner) for runner, r in clear))
        ties = [(runner, r) for runner, r in self.others if r is not None and not r.clear]
        if ties:
            parts.append("; no clear difference from " + ", ".join(
                f"{runner} ({figure(r.low)}-{figure(r.high)}x)" for runner, r in ties))
        few = [runner for runner, r in self.others if r is None]
        if few:
            parts.append("; too few passing repetitions to compare " + ", ".join(few))
        if self.failed:
            parts.append("; failed: " + ", ".join(self.failed))
        if self.unstable:
            parts.append("; unstable: " + ", ".join(self.unstable))
        if self.best in self.client_bound:
            parts.append(f"; {self.best} was client-bound, so its lead is a lower bound")
        return "".join(parts)


def level_verdict(connections: int, figures: dict[str, dict[int, float]], failed: list[str] = (),
                  client_bound: list[str] = ()) -> LevelVerdict:
    """figures: runner -> repetition -> throughput of the repetitions that passed. The best runner is the
    one with the highest geometric mean (the centre the ratios use, so no other runner is below 1x it);
    every other runner is stated as best/runner with its interval."""
    ranked = sorted((runner for runner in figures if figures[runner]),
                    key=lambda runner: (-statistics.geometric_mean(v for v in figures[runner].values() if v > 0),
                                        runner))
    unstable = [runner for runner in ranked if len(figures[runner]) >= 2
                and not is_stable(list(figures[runner].values()))]
    if not ranked:
        return LevelVerdict(connections, None, [], sorted(failed), [], [])
    best = ranked[0]
    others = [(runner, ratio_interval(figures[best], figures[runner])) for runner in ranked[1:]]
    return LevelVerdict(connections, best, others, sorted(failed), unstable,
                        sorted(r for r in client_bound if r in figures))


def case_figures(records: list[dict], key: str = "throughput_rps") -> dict[tuple, dict]:
    """(scenario, params, connections) -> {"figures": runner -> {repetition: value}, "failed": [...],
    "client_bound": [...]} over closed-loop records (as load_measurements returns them)."""
    out: dict[tuple, dict] = defaultdict(lambda: {"figures": {}, "failed": [], "client_bound": []})
    for (scenario, params, connections, runner), reps in group_cases(records).items():
        entry = out[(scenario, params, connections)]
        passed = [r for r in reps if r.get("status") == "ok" and r.get(key)]
        if not passed:
            entry["failed"].append(runner)
            continue
        entry["figures"][runner] = {int(r.get("repetition", i)): float(r[key]) for i, r in enumerate(passed)}
        if any(r.get("client_bound") for r in passed):
            entry["client_bound"].append(runner)
    return dict(out)


def verdicts(records: list[dict]) -> dict[tuple, list[LevelVerdict]]:
    """(scenario, params) -> one LevelVerdict per concurrency level, lowest level first."""
    out: dict[tuple, list[LevelVerdict]] = defaultdict(list)
    for (scenario, params, connections), entry in sorted(case_figures(records).items()):
        out[(scenario, params)].append(level_verdict(connections, entry["figures"], entry["failed"],
                                                     entry["client_bound"]))
    return dict(out)


def connections_word(n: int) -> str:
    return f"{n:,} connection" + ("" if n == 1 else "s")


def scenario_sentence(label: str, levels: list[LevelVerdict]) -> str:
    """One plain sentence of what a scenario's figures say, generated from its verdicts."""
    clauses = []
    for level in levels:
        where = f"at {connections_word(level.connections)}"
        if level.best is None:
            clauses.append(f"{where} every runner failed")
            continue
        ties = level.ties()
        clear = level.clear_over()
        if not level.others:
            clauses.append(f"{where} only {level.best} has a figure")
        elif ties and not clear:
            clauses.append(f"{where} no clear difference among the {len(ties) + 1} runners with figures "
                           f"(highest: {level.best})" if len(ties) > 1 else
                           f"{where} no clear difference between {level.best} and {ties[0]}")
        elif ties:
            smallest = min(r.low for _, r in clear)
            clauses.append(f"{where} {level.best} leads with no clear difference from {_join(ties)}, and is at "
                           f"least {figure(smallest)}x each of the rest")
        else:
            smallest = min((r.low for _, r in clear), default=None)
            if smallest is None:
                clauses.append(f"{where} {level.best} has the highest figure (too few repetitions to compare)")
            else:
                clauses.append(f"{where} {level.best} is clearly fastest, at least {figure(smallest)}x the next")
        if level.unstable:
            clauses[-1] += f" ({len(level.unstable)} unstable)"
    return f"{label}: " + "; ".join(clauses) + "."


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def verdict_lines(records: list[dict], label_of) -> list[str]:
    """For the table, `show` and summary.md: per scenario its sentence, then one line per level.
    `label_of(scenario, params)` names a scenario in words."""
    lines = []
    for (scenario, params), levels in verdicts(records).items():
        lines.append(scenario_sentence(label_of(scenario, params), levels))
        for level in levels:
            lines.append(f"  c={level.connections}: {level.line()}")
    return lines


def verdict_text(records: list[dict], label_of) -> str:
    lines = verdict_lines(records, label_of)
    if not lines:
        return ""
    return ("Verdicts (throughput; each runner against the best as best/runner, ratio of geometric means with its "
            "95% interval, paired by repetition; 'no clear difference' when the interval holds 1):\n"
            + "\n".join(lines))


def unstable_cases(records: list[dict]) -> list[tuple]:
    """(scenario, params, connections, runner) whose passing throughput fails the stop rule."""
    out = []
    for (scenario, params, connections), entry in sorted(case_figures(records).items()):
        for runner, by_rep in sorted(entry["figures"].items()):
            if len(by_rep) >= 2 and not is_stable(list(by_rep.values())):
                out.append((scenario, params, connections, runner))
    return out
