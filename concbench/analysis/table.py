"""The summary table printed at the end of `concbench run` (and by `concbench show FILE`).

It reads a result file only. Per case: median and spread (min-max) over repetitions of the ones
that passed, validity evidence, and failures shown as failures, never as figures.
"""
from __future__ import annotations

import statistics
from collections import defaultdict

from concbench.results.format import load_measurements
from concbench.results.kinds import RUN, kind_of_record

from .cases import group_cases
from .verdicts import UNSTABLE_HINT, is_stable, relative_half_width, verdict_text
from .wording import scenario_title


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def case_row(reps: list[dict]) -> dict:
    """One table row: figures from the repetitions that passed, plus counts of those that did not."""
    passed = [r for r in reps if r["status"] == "ok"]
    failed = [r for r in reps if r["status"] != "ok"]
    row = {"repetitions": len(reps), "passed": len(passed), "failed": len(failed),
           "client_bound": sum(1 for r in passed if r.get("client_bound")), "failure": ""}
    if failed:
        worst = max(failed, key=lambda r: r.get("starved_connections", 0))
        starved = worst.get("starved_connections", 0)
        kinds = worst.get("error_kinds") or "harness=1"
        who = "fast clients " if worst.get("slow_clients") else ""          # run --slow-clients
        row["failure"] = (f"{who}{starved}/{worst['offered_connections']} starved; " if starved else "") + \
            f"errors {kinds}; first: {worst.get('first_error', 'failed')}"
    if passed:
        row["rps"] = spread([r["throughput_rps"] for r in passed])
        row["p99"] = statistics.median(r["latency_p99_s"] for r in passed)
        row["server_cpu"] = statistics.median(r.get("server_cpu_pct", 0.0) for r in passed)
        row["client_core"] = statistics.median(r.get("loadgen_core_busy_pct", 0.0) for r in passed)
        row["rss"] = statistics.median(r.get("server_rss_bytes", 0) for r in passed)
        row["pss"] = statistics.median(r.get("server_pss_bytes", 0) for r in passed)
        figures = [r["throughput_rps"] for r in passed]       # the stop rule, on the passing figures
        row["half_width"] = relative_half_width(figures)
        row["unstable"] = len(figures) >= 2 and not is_stable(figures)
    return row


def slow_summary(reps: list[dict]) -> str:
    """What the slow clients saw over a case's repetitions: the fewest served, replies verified, errors summed."""
    count = reps[0]["slow_clients"]
    served = min(r.get("slow_served_connections", 0) for r in reps)
    replies = statistics.median(r.get("slow_requests", 0) for r in reps)
    kinds: dict = defaultdict(int)
    for r in reps:
        given = r.get("slow_error_kinds") or ""
        pairs = given.items() if isinstance(given, dict) else (p.partition("=")[::2] for p in given.split(",") if p)
        for kind, n in pairs:
            kinds[kind] += int(n)
    errors = ",".join(f"{k}={v}" for k, v in sorted(kinds.items())) or "0"
    return f"slow clients: >= {served}/{count} served, {replies:.0f} replies verified (median), errors {errors}"


def case_status(reps: list[dict], row: dict) -> str:
    """The status column: passed/total, client-bound, unstable, failures and their first error, caveats."""
    status = f"{row['passed']}/{row['repetitions']} ok"
    if row["client_bound"]:
        status += f", {row['client_bound']} client-bound"
    if row.get("unstable"):
        status += f", UNSTABLE (95% interval +-{row['half_width']:.0%})"
    if row["failed"]:
        status += f", {row['failed']} FAILED: {row['failure']}"
    if any(r.get("loadgen") == "wrk" for r in reps):
        status += ", driven by wrk: status codes checked, bodies not"
    if row["passed"] and any(r.get("overloaded") for r in reps if r["status"] == "ok"):
        status += ", OVERLOADED (achieved < 99% of offered)"
    if any(r.get("slow_clients") for r in reps):
        status += "; " + slow_summary(reps)
    if reps[0].get("runner_external"):                 # a plugin or a --server-cmd: not the suite's code
        status += f"; EXTERNAL {reps[0]['runner_external']}"
    return status


def case_label(scenario: str, params: tuple) -> str:
    return scenario + "".join(f" {k}={v:g}" if isinstance(v, float) else f" {k}={v}" for k, v in params)


def summary_table(path) -> str:
    """The table of a `run` result's records (the other kinds have their own: concbench.analysis.views)."""
    records = [r for r in load_measurements(path) if kind_of_record(r) is RUN]
    groups = group_cases(records)
    width = max([18] + [len(case_label(s, p)) for (s, p, _, _) in groups])
    header = (f"{'scenario':<{width}} {'conns':>5} {'runner':<20} {'req/s median (min-max)':>30} "
              f"{'p99 ms':>8} {'srv cpu':>7} {'cli core':>8} {'srv PSS':>10}  status")
    lines = [header, "-" * len(header)]
    previous = None
    unstable = 0
    for (scenario, params, connections, runner), reps in sorted(groups.items()):
        label = case_label(scenario, params)
        if previous is not None and previous != (label, connections):
            lines.append("")
        previous = (label, connections)
        row = case_row(reps)
        if row["passed"]:
            median, low, high = row["rps"]
            figures = (f"{median:>10,.0f} ({low:>8,.0f}-{high:>8,.0f}) {row['p99'] * 1e3:>8.2f} "
                       f"{row['server_cpu']:>6.0f}% {row['client_core']:>7.0f}% {human_bytes(row['pss']) if row['pss'] else '-':>10}")
        else:
            figures = f"{'-':>30} {'-':>8} {'-':>7} {'-':>8} {'-':>10}"
        status = case_status(reps, row)
        unstable += bool(row.get("unstable"))
        lines.append(f"{label:<{width}} {connections:>5} {runner:<20} {figures}  {status}")
    lines.append("")
    lines.append("req/s: verified replies per second in the window; median and (min-max) over the repetitions that "
                 "passed.\nA failed repetition (any error, timeout or starved connection) gives no figure. "
                 "client-bound: the load generator's core was over 90% busy.\n"
                 "srv PSS: the server's proportional set size (shared pages divided among the processes sharing "
                 "them), peak in the window, all processes; the charts and compare use the same PSS.")
    if unstable:
        lines.append(f"{unstable} case(s) {UNSTABLE_HINT}")
    closed_loop = [r for r in records if not r.get("offered_rate")]
    verdicts = verdict_text(closed_loop, scenario_title)
    engines = sorted({r.get("engine", "uvloop") for r in records             # files from before the engine: uvloop
                      if r.get("loadgen") != "wrk" and r.get("status") == "ok"})
    if engines:
        lines.append(f"load generator engine: {', '.join(engines)} (docs/load-generator.md)")
    if verdicts:
        lines += ["", verdicts]
    return "\n".join(lines)
