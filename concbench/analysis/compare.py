"""Comparison of two sets of measurement records: per case and metric, the ratio HEAD/BASE of medians,
its 95% bootstrap confidence interval, and a verdict against a threshold.

Pure: records (as `load_measurements` returns them) in, a report dict and markdown text out; no files,
no printing. The command that reads files and chooses the exit code is `concbench compare` (cli.py).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

import numpy as np

from concbench.analysis.cases import group_cases
from concbench.analysis.table import human_bytes
from concbench.errors import BadInput


@dataclass(frozen=True)
class Metric:
    """A figure compared between two sets, with the change (in %) that counts as a regression."""
    record_key: str
    higher_is_better: bool
    threshold_pct: float
    absolute_floor: float = 0.0   # a change smaller than this (in the record's unit) is never a verdict


# The metrics compared and their default thresholds (overridable with --threshold NAME=PCT).
METRICS = {
    "throughput": Metric("throughput_rps", higher_is_better=True, threshold_pct=10.0),
    "p50": Metric("latency_p50_s", higher_is_better=False, threshold_pct=10.0),
    "p99": Metric("latency_p99_s", higher_is_better=False, threshold_pct=20.0),
    "memory": Metric("server_pss_bytes", higher_is_better=False, threshold_pct=5.0, absolute_floor=1024.0),
    # run --measure instructions: callgrind's count is deterministic to well under 1% (docs/instructions.md)
    "instructions": Metric("instructions_per_request", higher_is_better=False, threshold_pct=1.0),
}

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240607      # fixed: the same two files always give the same intervals
CONFIDENCE = 0.95

REGRESSION, IMPROVEMENT, NO_CLEAR_CHANGE, TOO_NOISY = "regression", "improvement", "no clear change", "too noisy"
FAILED_IN_HEAD, FIXED_IN_HEAD, FAILED_IN_BOTH = "failed in head", "fixed in head", "failed in both"
NOT_COMPARED = "not compared"   # --normalize: the reference runner has no figure for this metric here
NO_CHANGE = "no change"         # the same figures on both sides (a file compared with itself): nothing to decide
VERDICTS = (REGRESSION, FAILED_IN_HEAD, TOO_NOISY, IMPROVEMENT, FIXED_IN_HEAD, NO_CLEAR_CHANGE, FAILED_IN_BOTH,
            NOT_COMPARED, NO_CHANGE)

EXIT_PASS, EXIT_REGRESSION, EXIT_INCONCLUSIVE = 0, 1, 2   # bad input (3) is the CLI's: concbench.errors.BadInput


def parse_thresholds(texts: list[str] | None) -> dict[str, Metric]:
    """The metrics with `NAME=PCT` overrides applied; the sign of PCT is ignored (the metric sets the direction)."""
    metrics = dict(METRICS)
    for text in texts or []:
        name, sep, value = text.partition("=")
        if not sep or name not in METRICS:
            raise BadInput(f"--threshold must be METRIC=PERCENT with METRIC one of {', '.join(METRICS)}, got {text!r}")
        try:
            pct = abs(float(value.rstrip("%")))
        except ValueError:
            raise BadInput(f"--threshold {name}: expected a percentage, got {value!r}") from None
        if not 0 < pct < 100:
            raise BadInput(f"--threshold {name}: expected a percentage between 0 and 100, got {value}")
        metrics[name] = replace(metrics[name], threshold_pct=pct)
    return metrics


def bootstrap_ratio_ci(base: list[float], head: list[float]) -> tuple[float, float]:
    """95% percentile-bootstrap interval of median(head) / median(base), resampling each side's repetitions."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    base_values, head_values = np.asarray(base, dtype=float), np.asarray(head, dtype=float)
    base_medians = np.median(rng.choice(base_values, size=(BOOTSTRAP_RESAMPLES, len(base_values))), axis=1)
    head_medians = np.median(rng.choice(head_values, size=(BOOTSTRAP_RESAMPLES, len(head_values))), axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(head_medians / base_medians, [tail, 100 - tail])
    return float(low), float(high)


def judge(metric: Metric, ratio: float, ci: tuple[float, float], absolute_change: float) -> tuple[str, str]:
    """(verdict, note) for one comparison. Bad side: below 1-t for higher-is-better, above 1+t otherwise."""
    low_bound, high_bound = 1 - metric.threshold_pct / 100, 1 + metric.threshold_pct / 100
    ci_low, ci_high = ci
    if ci_low < low_bound and ci_high > high_bound:
        return TOO_NOISY, "the interval spans both thresholds"
    below, above = ci_high < low_bound, ci_low > high_bound
    if abs(absolute_change) < metric.absolute_floor and (below or above or ci_low < low_bound or ci_high > high_bound):
        return NO_CLEAR_CHANGE, (f"a change of {format_figure(abs(absolute_change), metric.record_key, False)} is "
                                 f"under the {format_figure(metric.absolute_floor, metric.record_key, False)} floor")
    straddles_bad = (ci_low < low_bound <= ci_high) if metric.higher_is_better else (ci_low <= high_bound < ci_high)
    if straddles_bad:        # could be a regression, could be nothing: say so rather than "no change"
        return TOO_NOISY, "the interval straddles the regression threshold"
    if not (below or above):
        return NO_CLEAR_CHANGE, ""
    if abs(absolute_change) < metric.absolute_floor:
        return NO_CLEAR_CHANGE, (f"a change of {format_figure(abs(absolute_change), metric.record_key, False)} is "
                                 f"under the {format_figure(metric.absolute_floor, metric.record_key, False)} floor")
    worse = below if metric.higher_is_better else above
    return (REGRESSION if worse else IMPROVEMENT), ""


def passing(reps: list[dict]) -> list[dict]:
    return [r for r in reps if r.get("status") == "ok"]


def metric_values(reps: list[dict], key: str) -> list[float]:
    """The figure of every passing repetition that has one (a 0 means 'not measured', as in the result file)."""
    return [float(r[key]) for r in passing(reps) if r.get(key) and float(r[key]) > 0]


def reference_medians(groups: dict[tuple, list[dict]], runner: str, metrics: dict[str, Metric], label: str) -> dict:
    """(scenario, params, connections) -> {record key: the reference runner's median} for --normalize."""
    if not any(key[3] == runner for key in groups):
        raise BadInput(f"--normalize {runner}: that runner is not in {label}")
    medians = {}
    for (scenario, params, connections, name), reps in groups.items():
        if name != runner:
            continue
        medians[(scenario, params, connections)] = {
            m.record_key: statistics.median(values) for m in metrics.values()
            if (values := metric_values(reps, m.record_key))}
    return medians


def case_label(case: tuple) -> str:
    scenario, params, connections, runner = case
    return " ".join([scenario, *(f"{k}={v}" for k, v in params), f"c={connections}", runner])


def compare_case(metrics: dict[str, Metric], base_reps: list[dict], head_reps: list[dict],
                 base_scale: dict | None, head_scale: dict | None) -> list[dict]:
    """The rows of one case: one per metric, or one case-level row when a side has no passing repetition."""
    base_ok, head_ok = len(passing(base_reps)), len(passing(head_reps))
    if not base_ok or not head_ok:
        verdict = FAILED_IN_BOTH if not base_ok and not head_ok else FAILED_IN_HEAD if base_ok else FIXED_IN_HEAD
        note = f"passing repetitions: base {base_ok}/{len(base_reps)}, head {head_ok}/{len(head_reps)}"
        return [{"metric": "all", "verdict": verdict, "note": note}]
    rows = []
    for name, metric in metrics.items():
        base = metric_values(base_reps, metric.record_key)
        head = metric_values(head_reps, metric.record_key)
        if not base and not head:
            continue
        row = {"metric": name, "record_key": metric.record_key, "threshold_pct": metric.threshold_pct,
               "base_n": len(base), "head_n": len(head)}
        if base_scale is not None:
            base_divisor, head_divisor = base_scale.get(metric.record_key), head_scale.get(metric.record_key)
            if not base_divisor or not head_divisor:
                rows.append({**row, "verdict": NOT_COMPARED, "note": "the reference runner has no figure here"})
                continue
            base = [v / base_divisor for v in base]
            head = [v / head_divisor for v in head]
        if base:
            row["base_median"] = statistics.median(base)
        if head:
            row["head_median"] = statistics.median(head)
        if base and sorted(base) == sorted(head):     # identical figures: no interval can say otherwise
            rows.append({**row, "ratio": 1.0, "ci_low": 1.0, "ci_high": 1.0, "verdict": NO_CHANGE,
                         "note": "the same figures on both sides"})
            continue
        if len(base) < 2 or len(head) < 2:
            rows.append({**row, "verdict": TOO_NOISY,
                         "note": f"fewer than 2 passing repetitions (base {len(base)}, head {len(head)})"})
            continue
        ratio = row["head_median"] / row["base_median"]
        ci = bootstrap_ratio_ci(base, head)
        # the floor is in the record's unit: a normalized change is taken back to BASE's scale
        absolute_change = (row["head_median"] - row["base_median"]) * (base_divisor if base_scale is not None else 1)
        verdict, note = judge(metric, ratio, ci, absolute_change)
        rows.append({**row, "ratio": ratio, "ci_low": ci[0], "ci_high": ci[1], "verdict": verdict, "note": note})
    for row in rows:
        if base_ok < len(base_reps) or head_ok < len(head_reps):
            failed = f"failed repetitions: base {len(base_reps) - base_ok}, head {len(head_reps) - head_ok}"
            row["note"] = "; ".join(filter(None, [row.get("note"), failed]))
    return rows


def compare_records(base_records: list[dict], head_records: list[dict], metrics: dict[str, Metric] | None = None,
                    normalize: str | None = None) -> dict:
    """The whole comparison as a JSON-ready dict: rows, cases in only one set, counts, exit code."""
    metrics = metrics or METRICS
    base_groups, head_groups = group_cases(base_records), group_cases(head_records)
    base_scales = head_scales = None
    if normalize:
        base_scales = reference_medians(base_groups, normalize, metrics, "BASE")
        head_scales = reference_medians(head_groups, normalize, metrics, "HEAD")
    shared = sorted(set(base_groups) & set(head_groups))
    if normalize:
        shared = [case for case in shared if case[3] != normalize]
    if not shared:
        raise BadInput("the two result files share no case (scenario, parameters, connections, runner)"
                       + (f" besides the reference runner {normalize}" if normalize else ""))
    rows, not_normalized = [], []
    for case in shared:
        base_scale = head_scale = None
        if normalize:
            level = case[:3]
            base_scale, head_scale = base_scales.get(level), head_scales.get(level)
            if not base_scale or not head_scale:
                not_normalized.append(case_label(case))
                continue
        for row in compare_case(metrics, base_groups[case], head_groups[case], base_scale, head_scale):
            rows.append({"case": case_label(case), **row})
    counts = {verdict: sum(1 for r in rows if r["verdict"] == verdict) for verdict in VERDICTS}
    return {
        "normalized_by": normalize,
        "thresholds": {name: {"record_key": m.record_key, "threshold_pct": m.threshold_pct,
                              "higher_is_better": m.higher_is_better, "absolute_floor": m.absolute_floor}
                       for name, m in metrics.items()},
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "confidence": CONFIDENCE},
        "rows": rows,
        "only_in_base": [case_label(c) for c in sorted(set(base_groups) - set(head_groups))],
        "only_in_head": [case_label(c) for c in sorted(set(head_groups) - set(base_groups))],
        "not_normalized": not_normalized,
        "counts": counts,
        "exit_code": exit_code(counts),
    }


def exit_code(counts: dict[str, int]) -> int:
    """1 on any confirmed regression (a case failing in HEAD included), else 2 if anything is too noisy, else 0."""
    if counts[REGRESSION] or counts[FAILED_IN_HEAD]:
        return EXIT_REGRESSION
    if counts[TOO_NOISY]:
        return EXIT_INCONCLUSIVE
    return EXIT_PASS


def format_figure(value: float | None, record_key: str, normalized: bool) -> str:
    if value is None:
        return "-"
    if normalized:
        return f"{value:.3g}x ref"
    if record_key == "throughput_rps":
        return f"{value:,.0f} req/s"
    if record_key.endswith("_s"):
        return f"{value * 1e3:.3f} ms"
    if record_key.endswith("_bytes"):
        return human_bytes(value)
    if record_key.startswith("instructions_"):
        return f"{value:,.0f} instr"
    return f"{value:g}"


def format_verdict(row: dict) -> str:
    verdict = f"**{row['verdict']}**" if row["verdict"] in (REGRESSION, FAILED_IN_HEAD) else row["verdict"]
    return f"{verdict} ({row['note']})" if row.get("note") else verdict


def summary_line(report: dict) -> str:
    counts, rows = report["counts"], report["rows"]
    parts = [f"{n} {verdict}" for verdict, n in counts.items() if n]
    outcome = {EXIT_PASS: "pass", EXIT_REGRESSION: "regression", EXIT_INCONCLUSIVE: "inconclusive"}
    return (f"concbench compare: {len(rows)} comparisons over {len({r['case'] for r in rows})} cases: "
            f"{', '.join(parts) or 'none'}; only in base: {len(report['only_in_base'])}, "
            f"only in head: {len(report['only_in_head'])}; "
            f"exit {report['exit_code']} ({outcome[report['exit_code']]})")


def markdown(report: dict) -> str:
    """The table (one row per comparison), the cases not compared, and the one-line summary."""
    normalized = report["normalized_by"] is not None
    title = f" (figures divided by {report['normalized_by']}'s median)" if normalized else ""
    lines = [f"### concbench compare{title}", "",
             "| case | metric | base median | head median | ratio | 95% CI | verdict |",
             "|---|---|---:|---:|---:|---|---|"]
    for row in report["rows"]:
        key = row.get("record_key", "")
        ratio = f"{row['ratio']:.3f}" if "ratio" in row else "-"
        ci = f"{row['ci_low']:.3f} - {row['ci_high']:.3f}" if "ci_low" in row else "-"
        lines.append(f"| {row['case']} | {row['metric']} | {format_figure(row.get('base_median'), key, normalized)} "
                     f"| {format_figure(row.get('head_median'), key, normalized)} | {ratio} | {ci} "
                     f"| {format_verdict(row)} |")
    lines.append("")
    thresholds = ", ".join(f"{name} {'-' if m['higher_is_better'] else '+'}{m['threshold_pct']:g}%"
                           for name, m in report["thresholds"].items())
    lines.append(f"Thresholds: {thresholds} (memory changes under 1 KiB never count). A verdict needs the whole "
                 f"95% bootstrap interval of the ratio past the threshold. Instructions: callgrind's count per "
                 f"verified request (run --measure instructions).")
    for key, what in (("only_in_base", "Only in base (not compared)"), ("only_in_head", "Only in head (not compared)"),
                      ("not_normalized", "No reference figure (not compared)")):
        if report[key]:
            lines.append(f"\n{what}: " + ", ".join(report[key]))
    lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
