"""Result files: measurements as a pyperf BenchmarkSuite (JSON), written atomically, and read back.

It owns the file format: benchmark names, units, writing and reading; the keys a file may carry are registered in
concbench.results.keys (writing an unknown one is an error). It never measures. FORMAT_VERSION is logged below;
older files must still load.

Format log:
  1  first version: per case one `measurement` benchmark (every repetition, with all its
     evidence) and metric benchmarks holding only repetitions that passed. Open-loop cases carry
     `rate=R` in their names and `offered_rate` in metadata; `latency_histogram` holds the window's
     latencies (concbench.results.histogram encoding), so percentiles can be recomputed and merged.
     Memory files (`concbench memory`, records with benchmark=memory-idle) are named
     `memory/idle/<runner>/measurement` and `.../per-connection-<kind>` (byte: the fitted slope).
     Slow-client runs (`run --slow-clients`, additive) carry `slow=N` in their names, `slow_clients` in
     metadata (0 included) and the trickler's evidence as `slow_*` keys; files without them are unchanged.
     Backpressure files (`concbench backpressure`, records with benchmark=stream-backpressure) are named
     `stream/size=N/fast=F/slow=S/<runner>/measurement`, `.../server-peak-rss`, `-uss` and `-pss`
     (byte) and `.../fast-read-time-per-mb` (second per 10^6 verified bytes to the fast readers).
     Added without a version change (optional keys): backend-scenario records carry `backend_calls`,
     `backend_calls_per_reply`, `verified_replies_total` and the server's reported `server_pool`.
     Repetitions until stable (optional keys): every record of a closed-loop case with 2 or more passing
     repetitions carries `case_unstable` (0/1), `case_interval_half_width` (the 95% interval of its
     throughput as a fraction of the centre) and, when unstable, `case_stability_hint`; the run metadata
     carries `max_repetitions` and `stability_budget_s` (`repetitions` is the minimum).
     Also optional (runner identity, runner_labels): `runner_loop` (the event loop under the runner, with its
     version), `fixed_options` (a variant's), and for servers from outside the suite `runner_external`
     (`plugin` with `runner_module`, or `command` with `server_command`). The runner once named
     `asyncio-uvloop` is `uvloop` in new files; old files keep the old name.
     Load records carry `engine` (native or uvloop, the load generator's engine; absent: uvloop) and a
     suite's metadata `loadgen_engine` (concbench.clients.native_engine).
     Runs carry pyperf's `duration`: the measurement's wall time on measurement runs, 0 on metric runs (derived,
     no time of their own), so `pyperf stats` totals are the seconds measured.
     `run` files are written after every measurement: `run_state` (complete, running: k of n measured,
     interrupted after k of n (SIGNAL)), `plan_id`, `planned_measurements` and `run_args` in every run, `slot`
     (the measurement's place in the plan) in every record; files without them are complete.
     `run --measure instructions` (additive): records with measure=instructions carry `instructions`,
     `instructions_per_request` (and `instructions_per_connection` for churn), `requests_planned`,
     `warmup_requests`, `valgrind_version`; metric benchmarks `.../instructions-per-request` (unit integer).
     Every key is registered in concbench.results.keys (type, unit, check, meaning): writing an unregistered key is
     an error instead of a silent drop, and so `loadgen_parts` (load generator processes merged into a record,
     `run --loadgen-procs`) now reaches the file (optional: files without it are unchanged). Reading is unchanged:
     a key a reader does not know still loads.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyperf
from pyperf._collect_metadata import collect_metadata

from concbench.paths import REPOSITORY
from concbench import __version__, fairness, registry

from concbench.results import keys, kinds, strict_read

FORMAT_VERSION = 1
FORMAT_KEY = "concbench_format"

# Metric benchmarks: suffix -> (record key, pyperf unit, how to turn the record value into the stored value).
# Throughput is stored as seconds per request because pyperf compares "lower is better".
METRICS = {
    "time-per-request": ("throughput_rps", "second", lambda rps: 1.0 / rps),
    "latency-p50": ("latency_p50_s", "second", float),
    "latency-p90": ("latency_p90_s", "second", float),
    "latency-p99": ("latency_p99_s", "second", float),
    "latency-p99.9": ("latency_p99_9_s", "second", float),
    "latency-max": ("latency_max_s", "second", float),
    "server-cpu-per-request": ("server_cpu_per_request_s", "second", float),
    "server-rss": ("server_rss_bytes", "byte", int),
    "server-uss": ("server_uss_bytes", "byte", int),
    "server-pss": ("server_pss_bytes", "byte", int),
    # run --measure instructions (concbench.studies.instructions): callgrind's count, per verified request / connection
    "instructions-per-request": ("instructions_per_request", "integer", float),
    "instructions-per-connection": ("instructions_per_connection", "integer", float),
}

# Every key a measurement record may carry into run metadata, with its type (concbench.results.keys registers each
# with unit, check and meaning). Booleans are stored as 0/1.
RECORD_KEYS = keys.record_types()
MEMORY_METRICS = keys.MEMORY_METRICS
STREAM_METRICS = kinds.STREAM_METRICS


class NotAResult(Exception):
    """The file is unreadable, truncated, or not a concbench result file."""


@dataclass
class RunContext:
    """Metadata shared by every run of one suite: machine, versions, profile, fairness settings."""
    metadata: dict

    @classmethod
    def collect(cls, profile, runners, scenarios, server_cpus, loadgen_cpus, options, argv,
                loadgen_engine: str | None = None) -> "RunContext":
        """loadgen_engine: the engine the suite's load generator runs on (concbench.clients.native_engine's
        loadgen_engine), given by the study that chose it (results know no load generator)."""
        # pyperf's machine metadata: the keys registered (concbench.results.keys, origin machine); one a later pyperf
        # adds is left out until it is registered (tests/test_keys.py fails on this pyperf's unregistered ones)
        meta = {k: v for k, v in collect_metadata().items()
                if isinstance(v, (int, float, str)) and keys.lookup(k) is not None}
        meta.update({
            FORMAT_KEY: FORMAT_VERSION,
            "concbench_version": __version__,
            "git_commit": git_commit(),
            "command": " ".join(["concbench", *argv[1:]]),
            "profile": profile.name,
            "warmup_s": profile.warmup_s,
            "window_s_planned": profile.window_s,
            "repetitions": profile.repetitions,
            "max_repetitions": getattr(profile, "max_repetitions", None) or profile.repetitions,
            "stability_budget_s": getattr(profile, "stability_budget_s", 0.0),
            "p99_target_s": profile.p99_target_s,
            "server_cpus": ",".join(map(str, server_cpus)),
            "loadgen_cpus": ",".join(map(str, loadgen_cpus)),
            "loadgen": profile.loadgen,
            **({"loadgen_engine": loadgen_engine} if loadgen_engine else {}),
            "backlog": fairness.BACKLOG,
            "recv_size": fairness.RECV_SIZE,
            "python_version": platform.python_version(),
            "transparent_hugepages": read_first_line("/sys/kernel/mm/transparent_hugepage/enabled"),
            "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX", "unset"),
        })
        for runner in runners:
            runner_options = options.get(runner) or {}
            if runner_options:
                meta[f"options_{runner}"] = ",".join(f"{k}={v}" for k, v in sorted(runner_options.items()))
        return cls(meta)


def read_first_line(path: str) -> str:
    try:
        return Path(path).read_text().splitlines()[0].strip() or "empty"
    except (OSError, IndexError):
        return "unknown"


def git_commit() -> str:
    here = REPOSITORY
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("-dirty" if dirty else "")) if commit else "unknown"


def case_name(case) -> str:
    params = "/".join(f"{k}={v}" for k, v in case.params)
    rate = f"/rate={case.rate:g}" if case.rate else ""
    slow = f"/slow={case.slow_clients}" if getattr(case, "slow_clients", None) is not None else ""
    return f"{case.scenario}/{params}/c={case.connections}{rate}{slow}/{case.runner}".replace("//", "/")


def record_metadata(record: dict) -> dict:
    """A record's evidence as pyperf-compatible metadata (no empty strings, no nested values), each value checked.

    Every key must be registered (keys.UnknownKey otherwise): the identity and context keys a record may carry
    (a load report's scenario, open loop's offered_rate) are written from the case and the suite instead, and
    keys.NOT_WRITTEN and private `_` keys never reach a file, each for the reason given there."""
    meta = {}
    for name, value in record.items():
        if name in keys.NOT_WRITTEN or name.startswith(keys.PRIVATE_PREFIX):
            continue
        if keys.writable(name).origin != "record":
            continue
        value = keys.checked(name, value)
        if value is not None:
            meta[name] = value
    return meta


def runner_labels(runner) -> dict:
    """The loop under a runner (with its version) and, for a plugin or --server-cmd, that it is external."""
    labels = {}
    loop = registry.loop_of(runner)
    if loop:
        labels["runner_loop"] = loop
    if runner.fixed_options:
        labels["fixed_options"] = ",".join(f"{k}={v}" for k, v in runner.fixed_options)
    if runner.command is not None:
        labels.update(runner_external="command", server_command=runner.command)
    elif runner.external:
        labels.update(runner_external="plugin", runner_module=runner.module)
    return labels


def write_suite(path, context: RunContext, measurements) -> None:
    """measurements: [(Case, record)]; writes one pyperf suite atomically (temporary name, then rename)."""
    dump_suite_atomically(path, suite_runs(context, measurements))


def suite_runs(context: RunContext, measurements) -> dict[str, list]:
    """measurements: [(Case, record)] -> benchmark name -> [pyperf.Run]."""
    runs: dict[str, list] = {}
    for case, record in measurements:
        runner = registry.RUNNERS[case.runner]
        identity = {
            **context.metadata,
            "scenario": case.scenario, "runner": case.runner, "runner_model": runner.model,
            "framework": runner.framework, "framework_version": runner.version(),
            "variant_of": runner.variant_of or case.runner,
            **runner_labels(runner),
            "offered_connections": case.connections,
            **({"offered_rate": float(case.rate)} if case.rate else {}),
            **({"slow_clients": case.slow_clients} if getattr(case, "slow_clients", None) is not None else {}),
            **{f"param_{k}": v for k, v in case.params},
        }
        base = case_name(case)
        duration = max(record.get("measured_wall_s", 0.0), 1e-9)
        measurement_meta = {**identity, **record_metadata(record), "name": f"{base}/measurement",
                            "unit": "second", "metric": "measurement", "duration": duration}
        runs.setdefault(f"{base}/measurement", []).append(
            pyperf.Run([duration], metadata=measurement_meta, collect_metadata=False))
        if record["status"] != "ok":
            continue
        # a metric is derived from the measurement and took no time of its own: duration 0, so that pyperf's totals
        # (per benchmark and for the suite) count each measurement's wall time once
        status_meta = {"status": "ok", "repetition": record["repetition"], "duration": 0.0,
                       **({"slot": record["slot"]} if "slot" in record else {})}
        for suffix, (key, unit, convert) in METRICS.items():
            value = record.get(key)
            if not value or value <= 0:
                continue
            meta = {**identity, **status_meta, "name": f"{base}/{suffix}", "unit": unit, "metric": suffix}
            runs.setdefault(f"{base}/{suffix}", []).append(
                pyperf.Run([convert(value)], metadata=meta, collect_metadata=False))
    return runs


def dump_suite_atomically(path, runs: dict) -> None:
    """runs: benchmark name -> [pyperf.Run]; one suite written to a temporary name, then renamed. Every run's
    metadata key must be registered (concbench.results.keys): UnknownKey before anything is written."""
    for group in runs.values():
        for run in group:
            keys.check_metadata(run.get_metadata())
    suite = pyperf.BenchmarkSuite([pyperf.Benchmark(r) for r in runs.values()])
    write_atomically(path, lambda tmp: suite.dump(tmp, replace=True))


def figure_runs(context: RunContext, measurements, kind: kinds.ResultKind) -> dict[str, list]:
    """measurements: [(runner, record)] from a study with figures of its own (a kind of the figures layout: memory,
    backpressure): each record gives a measurement benchmark, and if it passed, one benchmark per figure, named
    and computed by the kind (kind.base_name(runner, record), kind.figures(record): positive values only)."""
    runs: dict[str, list] = {}
    for runner_name, record in measurements:
        runner = registry.RUNNERS[runner_name]
        identity = {**context.metadata, "scenario": kind.scenario, "runner": runner_name, "runner_model": runner.model,
                    "framework": runner.framework, "framework_version": runner.version(),
                    "variant_of": runner.variant_of or runner_name}
        if runner.fixed_options:
            identity["fixed_options"] = ",".join(f"{k}={v}" for k, v in runner.fixed_options)
        base = kind.base_name(runner_name, record)
        duration = max(record.get("measured_wall_s", 0.0), 1e-9)
        meta = {**identity, **record_metadata(record), "duration": duration}
        runs.setdefault(f"{base}/measurement", []).append(pyperf.Run(
            [duration],
            metadata={**meta, "name": f"{base}/measurement", "unit": "second", "metric": "measurement"},
            collect_metadata=False))
        if record["status"] != "ok":
            continue
        for suffix, value, unit in kind.figures(record):
            name = f"{base}/{suffix}"
            runs.setdefault(name, []).append(pyperf.Run(
                [value], metadata={**meta, "name": name, "unit": unit, "metric": suffix, "duration": 0.0},
                collect_metadata=False))
    return runs


def memory_runs(context: RunContext, measurements) -> dict[str, list]:
    """measurements: [(runner, record)] from `concbench memory` (kind memory)."""
    return figure_runs(context, measurements, kinds.MEMORY)


def stream_runs(context: RunContext, measurements) -> dict[str, list]:
    """measurements: [(runner, record)] from `concbench backpressure` (kind backpressure)."""
    return figure_runs(context, measurements, kinds.BACKPRESSURE)


def write_memory_suite(path, context: RunContext, measurements) -> None:
    dump_suite_atomically(path, memory_runs(context, measurements))


def write_stream_suite(path, context: RunContext, measurements) -> None:
    dump_suite_atomically(path, stream_runs(context, measurements))


def load_measurements(path) -> list[dict]:
    """Every measurement record in a result file (one per repetition, failed ones included).

    Strict: NotAResult (one line naming the file and the problem) for anything malformed, or written by a
    newer concbench; nothing computed from the file can then fail on its shape."""
    try:
        data = strict_read.read_json(path)
        summary = kinds.kind_of_summary(data) if not (isinstance(data, dict) and "benchmarks" in data) else None
        if summary is not None:
            raise NotAResult(f"{path}: a `{summary.command}` summary (one JSON object), not measurement records; "
                             f"`concbench show {path}` prints its table")
        strict_read.check_structure(data, FORMAT_VERSION, FORMAT_KEY)
    except strict_read.StructureError as exc:
        raise NotAResult(f"{path}: {exc}") from None
    try:
        suite = pyperf.BenchmarkSuite.load(os.fspath(path))
    except FileNotFoundError:
        raise NotAResult(f"{path}: no such file") from None
    except Exception as exc:          # pyperf's own checks of a file of the right shape: still one line
        raise NotAResult(f"{path}: not a readable pyperf result file ({exc.__class__.__name__}: {exc})") from None
    records = []
    for bench in suite.get_benchmarks():
        meta = bench.get_metadata()
        if meta.get("metric") != "measurement":
            continue
        for run in bench.get_runs():
            run_meta = run.get_metadata()
            if FORMAT_KEY not in run_meta:
                raise NotAResult(f"{path}: a pyperf file, but not a concbench result")
            try:
                strict_read.check_record(run_meta, len(records) + 1, RECORD_KEYS)
            except strict_read.StructureError as exc:
                raise NotAResult(f"{path}: {exc}") from None
            records.append(dict(run_meta))
    if not records:
        raise NotAResult(f"{path}: a pyperf file, but not a concbench result (no measurements)")
    return records


def write_atomically(path, write) -> None:
    """Call write(temporary path) in the destination's folder, then rename into place; no temporary file is left."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())     # mkstemp makes 0600; a result file honours the umask
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomically(path, text: str) -> None:
    write_atomically(path, lambda tmp: Path(tmp).write_text(text))


def write_json_atomically(path, data) -> None:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    write_text_atomically(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def merge_result_files(paths, output, metadata: dict | None = None) -> None:
    """One result file from several one-repetition result files (`concbench ab`'s rounds): the runs of file i
    become repetition i, and `metadata` is added to every run. Each input must be a concbench result."""
    runs: dict[str, list] = {}
    for repetition, path in enumerate(paths):
        load_measurements(path)   # refuses anything that is not a readable concbench result
        for bench in pyperf.BenchmarkSuite.load(os.fspath(path)).get_benchmarks():
            for run in bench.get_runs():
                meta = {**run.get_metadata(), **(metadata or {}), "repetition": repetition}
                runs.setdefault(bench.get_name(), []).append(
                    pyperf.Run(run.values, metadata=meta, collect_metadata=False))
    dump_suite_atomically(output, runs)
