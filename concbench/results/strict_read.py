"""Strict reading of result files: every structural problem is found before anything is computed from the file,
and reported as one line naming the file and what is wrong (NotAResult); never a traceback, never a verdict.

It owns the checks only (raw JSON shape, format version, the keys and types of measurement records);
concbench.results.format owns the format itself and calls these.
"""
from __future__ import annotations

import gzip
import json
import os

from concbench.results import kinds
from concbench.results.histogram import Histogram

NUMBER = (int, float)
# keys every measurement record needs; each kind adds its own (concbench.results.kinds: required, required_ok)
REQUIRED = ("status", "runner", "scenario")
# a run's measured figures that are never negative (fitted figures, e.g. memory intercepts, can be)
NON_NEGATIVE = {"throughput_rps", "requests", "errors", "window_s", "warmup_s", "latency_p50_s", "latency_p90_s",
                "latency_p99_s", "latency_p99_9_s", "latency_max_s", "latency_mean_s", "server_cpu_pct",
                "loadgen_cpu_pct", "server_rss_bytes", "server_uss_bytes", "server_pss_bytes", "offered_connections",
                "connections", "offered_rate", "server_cpu_per_request_s"}
IDENTITY_NUMBERS = ("offered_connections", "offered_rate", "slow_clients", "repetition")


class StructureError(ValueError):
    """What is wrong, in words (the caller adds the file's name)."""


UNREADABLE = "not a readable pyperf result file: "


def read_json(path) -> object:
    """The parsed JSON of a result file (.json or .json.gz); StructureError for unreadable or non-JSON files."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise StructureError("is a directory, not a result file")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise StructureError("no such file") from None
    except json.JSONDecodeError as exc:
        raise StructureError(f"{UNREADABLE}not JSON (line {exc.lineno} column {exc.colno}: {exc.msg}); "
                             f"truncated or not a result file") from None
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise StructureError(f"{UNREADABLE}cannot be read ({exc.__class__.__name__}: {exc})") from None


def _kind(value) -> str:
    return "null" if value is None else {dict: "an object", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), type(value).__name__)


def check_structure(data, known_format: int, format_key: str) -> None:
    """The pyperf suite shape (object with a list of benchmarks, each with a list of runs, each with a list of
    values and an object of metadata), and a concbench format this version can read."""
    if not isinstance(data, dict):
        raise StructureError(f"{UNREADABLE}the top level is {_kind(data)}, not a pyperf suite object")
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise StructureError(f"{UNREADABLE}'benchmarks' is {_kind(benchmarks)}, not a list" if "benchmarks" in data
                             else f"{UNREADABLE}no 'benchmarks' list: not a pyperf suite")
    if not isinstance(data.get("metadata", {}), dict):
        raise StructureError(f"{UNREADABLE}the suite's 'metadata' is not an object")
    suite_meta = data.get("metadata", {})
    formats = {suite_meta[format_key]} if format_key in suite_meta else set()
    for i, bench in enumerate(benchmarks):
        if not isinstance(bench, dict):
            raise StructureError(f"{UNREADABLE}benchmark {i + 1} is {_kind(bench)}, not an object")
        common = bench.get("metadata", {})
        if not isinstance(common, dict):
            raise StructureError(f"{UNREADABLE}benchmark {i + 1}'s 'metadata' is {_kind(common)}, not an object")
        runs = bench.get("runs")
        if not isinstance(runs, list):
            raise StructureError(f"{UNREADABLE}benchmark {i + 1} ({common.get('name', 'unnamed')}) has no list of runs")
        for j, run in enumerate(runs):
            where = f"benchmark {i + 1} ({common.get('name', 'unnamed')}) run {j + 1}"
            if not isinstance(run, dict):
                raise StructureError(f"{UNREADABLE}{where} is {_kind(run)}, not an object")
            if not isinstance(run.get("metadata", {}), dict):
                raise StructureError(f"{UNREADABLE}{where}: 'metadata' is {_kind(run.get('metadata'))}, not an object")
            values = run.get("values", [])
            if not isinstance(values, list) or not all(isinstance(v, NUMBER) and not isinstance(v, bool)
                                                       for v in values):
                raise StructureError(f"{UNREADABLE}{where}: 'values' must be a list of numbers")
            merged = {**suite_meta, **common, **run.get("metadata", {})}
            if format_key in merged:
                formats.add(merged[format_key])
    for version in formats:
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise StructureError(f"{format_key} is {version!r}, not a format version")
    newest = max(formats, default=0)
    if newest > known_format:
        raise StructureError(f"written in result format {newest}, newer than this concbench reads "
                             f"(up to {known_format}): upgrade concbench")


def check_record(record: dict, number: int, record_keys: dict) -> None:
    """One measurement record (a run's metadata): the keys analysis relies on, each of its type."""
    where = f"measurement {number}"
    for key in REQUIRED:
        if key not in record:
            raise StructureError(f"{where} has no '{key}'")
    kind = kinds.kind_of_record(record)      # None: a kind of a newer concbench (the views refuse it in one line)
    for key in kind.required if kind else ():
        if key not in record:
            raise StructureError(f"{where} has no '{key}'")
    for key in kind.required_ok if kind and record["status"] == "ok" else ():
        if key not in record:
            raise StructureError(f"{where} passed but has no '{key}'")
    for key, value in record.items():
        key_type = record_keys.get(key)
        if key in ("status", "runner", "scenario") or key_type in (str, dict):
            if not isinstance(value, str):
                raise StructureError(f"{where}: '{key}' is {_kind(value)} {value!r}, expected text")
        if key.endswith("_histogram") and isinstance(value, str):
            try:
                Histogram.decode(value)
            except Exception as exc:         # whatever a damaged encoding raises: one line
                raise StructureError(f"{where}: '{key}' is not a readable histogram ({exc})") from None
        elif key_type in (int, float, bool) or key in IDENTITY_NUMBERS or key.startswith("param_"):
            if not isinstance(value, NUMBER) or isinstance(value, bool):
                raise StructureError(f"{where}: '{key}' is {_kind(value)} {value!r}, expected a number")
            if key in NON_NEGATIVE and not 0 <= value < float("inf"):
                raise StructureError(f"{where}: '{key}' is {value!r}, expected 0 or more")
    if kind is kinds.RUN and record["status"] == "ok" and not record["throughput_rps"] > 0:
        raise StructureError(f"{where} passed with throughput_rps {record['throughput_rps']!r}, expected above 0")
