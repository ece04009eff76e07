"""Result kinds in one table: each kind's command, how its records are recognised and laid out, whether compare reads
it; reading, showing and comparing dispatch on it (analysis.views adds tables and charts). Pure: no files.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from concbench.results.keys import MEMORY_METRICS

LAYOUTS = {
    "cases": "a pyperf suite: per case a measurement benchmark and the metric benchmarks (format.write_suite)",
    "figures": "a pyperf suite: per runner (and level) a measurement benchmark and the kind's own figures "
               "(format.figure_runs, with the kind's benchmark names and figures)",
    "summary": "one JSON object of the kind's keys (concbench.results.summary_file)",
}


@dataclass(frozen=True)
class ResultKind:
    name: str
    command: str                # what writes it
    summary: str
    layout: str                 # LAYOUTS
    benchmark: str | None = None    # the value of its records' `benchmark` key (figures layout)
    measure: str | None = None      # the value of its records' `measure` key (run --measure instructions)
    scenario: str | None = None     # figures layout: the scenario its records measure
    comparable: bool = False    # `compare` reads it case by case
    required: tuple[str, ...] = ()      # keys every record needs besides status, runner and scenario
    required_ok: tuple[str, ...] = ()   # keys a record that passed needs
    # figures layout: a record's benchmark name without the metric, and its figures [(metric, value, pyperf unit)]
    base_name: Callable[[str, dict], str] | None = None
    figures: Callable[[dict], list[tuple[str, float, str]]] | None = None
    keys: tuple[str, ...] = ()      # summary layout: every key it may carry
    identifying: tuple[str, ...] = ()   # summary layout: the keys that say a JSON object is of this kind


def memory_figures(record: dict) -> list[tuple[str, float, str]]:
    """Per-connection slopes as byte benchmarks; a non-positive slope (noise) stays in the measurement's metadata."""
    return [(f"per-connection-{kind}", value, "byte") for kind in MEMORY_METRICS
            if (value := record.get(f"{kind}_per_connection_bytes", 0)) > 0]


STREAM_METRICS = {   # suffix -> (record key, unit, stored value)
    "server-peak-rss": ("server_peak_rss_bytes", "byte", int),
    "server-peak-uss": ("server_peak_uss_bytes", "byte", int),
    "server-peak-pss": ("server_peak_pss_bytes", "byte", int),
    "fast-read-time-per-mb": ("fast_mb_s", "second", lambda mb_s: 1.0 / mb_s),
}


def stream_figures(record: dict) -> list[tuple[str, float, str]]:
    """Figures only where positive (a zero, e.g. fast readers starved at 0 MB/s, stays in the metadata)."""
    return [(suffix, convert(record[key]), unit) for suffix, (key, unit, convert) in STREAM_METRICS.items()
            if record.get(key, 0) > 0]


RUN = ResultKind(
    "run", "concbench run", "closed or open loop (rates), slow clients, every scenario; `ab` and `run --python` "
    "merge rounds and interpreters into one", "cases", comparable=True, required=("offered_connections",),
    required_ok=("throughput_rps", "latency_p50_s", "latency_p99_s", "requests"))
INSTRUCTIONS = ResultKind(
    "instructions", "concbench run --measure instructions", "instructions per request counted by callgrind",
    "cases", measure="instructions", comparable=True, required=("offered_connections",),
    required_ok=("instructions", "instructions_per_request"))
MEMORY = ResultKind(
    "memory", "concbench memory", "memory per idle connection, fitted over levels", "figures",
    benchmark="memory-idle", scenario="echo",
    base_name=lambda runner, record: f"memory/idle/{runner}", figures=memory_figures)
BACKPRESSURE = ResultKind(
    "backpressure", "concbench backpressure", "fast-reader MB/s and server peak memory against slow readers",
    "figures", benchmark="stream-backpressure", scenario="stream",
    base_name=lambda runner, record: (f"stream/size={record['stream_size']}/fast={record['fast_readers']}/"
                                      f"slow={record['slow_readers']}/{runner}"),
    figures=stream_figures)
CEILING = ResultKind(
    "ceiling", "concbench ceiling", "the load generator's ceiling against the reference C server", "summary",
    keys=("command", "git_commit", "connections", "size", "duration_s", "server_cpus", "loadgen_cpus",
          "echoes_per_s", "client_core_busy_pct", "server_core_busy_pct", "ratio_concbench_to_c", "ratios_to_c",
          "bare_uvloop_is_unverified", "concbench_engine", "recording_cost", "open_loop", "run_state"),
    identifying=("echoes_per_s", "ratios_to_c"))
CLIENTS = ResultKind(
    "clients", "concbench clients", "the same servers measured by several clients, interleaved", "summary",
    keys=("command", "git_commit", "scenario", "connections", "duration_s", "server_cpus", "loadgen_cpus", "rates",
          "client_core_busy_pct", "medians", "client_core_busy_medians", "reference_client", "server_ratios",
          "run_state"),
    identifying=("medians", "reference_client"))

KINDS: dict[str, ResultKind] = {kind.name: kind for kind in (RUN, INSTRUCTIONS, MEMORY, BACKPRESSURE, CEILING, CLIENTS)}


def kind_of_record(record: dict) -> ResultKind | None:
    """A measurement record's kind; None for a `benchmark` this concbench does not know (a newer one's)."""
    benchmark = record.get("benchmark")
    if benchmark is not None:
        return next((kind for kind in KINDS.values() if kind.benchmark == benchmark), None)
    measure = record.get("measure")
    return next((kind for kind in KINDS.values() if kind.measure and kind.measure == measure), RUN)


def kind_of_records(records: list[dict]) -> ResultKind | None:
    """The kind of a file's records: their one kind, or for a file mixing kinds the first of them in KINDS's order;
    None if a record is of a kind this concbench does not know."""
    found = [kind_of_record(record) for record in records]
    if None in found:
        return None
    return next(kind for kind in KINDS.values() if kind in found)


def unknown_benchmark(records: list[dict]) -> str:
    """The `benchmark` value of the first record whose kind is unknown ('' if none)."""
    return next((str(r.get("benchmark")) for r in records if kind_of_record(r) is None), "")


def kind_of_summary(data) -> ResultKind | None:
    """The summary kind a JSON object is (it carries the kind's identifying keys), or None."""
    if not isinstance(data, dict):
        return None
    return next((kind for kind in KINDS.values() if kind.layout == "summary"
                 and all(key in data for key in kind.identifying)), None)


def markdown_table() -> str:
    """The kinds table of docs/result-format.md."""
    lines = ["| kind | written by | what it holds | layout | recognised by | compare |", "|---|---|---|---|---|---|"]
    for kind in KINDS.values():
        if kind.benchmark:
            marker = f"records with `benchmark={kind.benchmark}`"
        elif kind.measure:
            marker = f"records with `measure={kind.measure}`"
        elif kind.layout == "summary":
            marker = "a JSON object with " + " and ".join(f"`{key}`" for key in kind.identifying)
        else:
            marker = "records with neither `benchmark` nor `measure`"
        lines.append(f"| {kind.name} | `{kind.command}` | {kind.summary} | {kind.layout} | {marker} | "
                     f"{'yes' if kind.comparable else 'no'} |")
    return "\n".join(lines) + "\n"
