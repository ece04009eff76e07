"""A result file's cases as rows for scripts and the HTML table: `concbench show --json` and `--csv`.

One row per (scenario, parameters, connections, runner): the table's figures, the stop rule's interval and
flag, and the verdict against the best runner at that level. Pure: records in, rows and text out.
"""
from __future__ import annotations

import csv
import io
import json
import math

from concbench.results.kinds import RUN, kind_of_record

from .cases import group_cases
from .table import case_row, case_status
from .verdicts import verdicts
from .wording import scenario_title

COLUMNS = ("scenario", "title", "params", "connections", "runner", "repetitions", "passed", "failed",
           "client_bound", "throughput_rps_median", "throughput_rps_min", "throughput_rps_max",
           "throughput_interval_half_width", "unstable", "latency_p99_ms", "server_cpu_pct",
           "loadgen_core_busy_pct", "server_pss_bytes", "best_runner", "ratio_best_to_this", "ratio_low",
           "ratio_high", "clear_difference", "status")


def case_rows(records: list[dict]) -> list[dict]:
    closed_loop = [r for r in records if not r.get("offered_rate")]
    against_best = {}
    for (scenario, params), levels in verdicts(closed_loop).items():
        for level in levels:
            for runner, ratio in level.others:
                against_best[(scenario, params, level.connections, runner)] = (level.best, ratio)
            if level.best:
                against_best[(scenario, params, level.connections, level.best)] = (level.best, None)
    rows = []
    for (scenario, params, connections, runner), reps in sorted(group_cases(records).items()):
        row = case_row(reps)
        best, ratio = against_best.get((scenario, params, connections, runner), (None, None))
        out = {"scenario": scenario, "title": scenario_title(scenario, params), "params": dict(params),
               "connections": connections, "runner": runner, "repetitions": row["repetitions"],
               "passed": row["passed"], "failed": row["failed"], "client_bound": row["client_bound"],
               "throughput_rps_median": None, "throughput_rps_min": None, "throughput_rps_max": None,
               "throughput_interval_half_width": None, "unstable": bool(row.get("unstable")),
               "latency_p99_ms": None, "server_cpu_pct": None, "loadgen_core_busy_pct": None,
               "server_pss_bytes": None, "best_runner": best,
               "ratio_best_to_this": ratio.ratio if ratio else (1.0 if best == runner else None),
               "ratio_low": ratio.low if ratio else None, "ratio_high": ratio.high if ratio else None,
               "clear_difference": ratio.clear if ratio else None, "status": case_status(reps, row)}
        if row["passed"]:
            half = row["half_width"]
            out.update(throughput_rps_median=row["rps"][0], throughput_rps_min=row["rps"][1],
                       throughput_rps_max=row["rps"][2],
                       throughput_interval_half_width=None if math.isinf(half) else half,
                       latency_p99_ms=row["p99"] * 1e3, server_cpu_pct=row["server_cpu"],
                       loadgen_core_busy_pct=row["client_core"], server_pss_bytes=row["pss"] or None)
        rows.append(out)
    return rows


def rows_for(records: list[dict]) -> tuple[list[dict], tuple]:
    """(rows, columns): a run's cases as case_rows; the records of another kind (memory, backpressure,
    instructions: their figures are per runner and level already) as they are, with every key any of them has as
    the columns (concbench.results.kinds says which kind a record is)."""
    runs = [r for r in records if kind_of_record(r) is RUN]
    if runs:
        return case_rows(runs), COLUMNS
    columns = tuple(dict.fromkeys(key for record in records for key in record))
    return records, columns


def rows_json(records: list[dict]) -> str:
    return json.dumps(rows_for(records)[0], indent=2) + "\n"


def rows_csv(records: list[dict]) -> str:
    rows, columns = rows_for(records)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        params = row.get("params")
        writer.writerow({**row, **({"params": " ".join(f"{k}={v}" for k, v in params.items())}
                                   if isinstance(params, dict) else {})})
    return buffer.getvalue()
