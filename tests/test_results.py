"""Result files: pyperf's format, round-tripped through pyperf itself, with failures kept as failures."""
from __future__ import annotations

import json
import subprocess
import sys

import pyperf
import pytest

from concbench.studies.orchestrate import Case
from concbench.studies.profiles import PROFILES
from concbench.results.format import NotAResult, RunContext, load_measurements, write_suite


def ok_record(rep: int, rps: float) -> dict:
    from concbench.results.histogram import Histogram
    latencies = [100_000 + 1000 * i for i in range(1000)]         # 0.1 .. 1.1 ms
    return {"latency_histogram": Histogram.from_values(latencies).encode(), "status": "ok", "repetition": rep, "measured_wall_s": 2.5, "throughput_rps": rps,
            "requests": int(rps * 1.5), "window_s": 1.5, "latency_p50_s": 1e-4, "latency_p90_s": 2e-4,
            "latency_p99_s": 5e-4, "latency_p99_9_s": 9e-4, "latency_max_s": 2e-3, "errors": 0,
            "error_kinds": {}, "connections": 10, "served_connections": 10, "starved_connections": 0,
            "loadgen_cpu_pct": 50.0, "loadgen_core_busy_pct": 60.0, "client_bound": False,
            "server_cpu_pct": 99.0, "server_cpu_per_request_s": 2e-5, "server_rss_bytes": 30_000_000,
            "server_uss_bytes": 25_000_000, "server_pss_bytes": 26_000_000, "first_error": ""}


def failed_record(rep: int) -> dict:
    return {"status": "failed", "repetition": rep, "measured_wall_s": 4.0, "throughput_rps": 900.0,
            "requests": 100, "window_s": 1.5, "errors": 7, "error_kinds": {"timeout": 7}, "connections": 10,
            "served_connections": 3, "starved_connections": 7,
            "first_error": "timeout: no complete reply within 2 s"}


@pytest.fixture
def result_file(tmp_path):
    context = RunContext.collect(PROFILES["quick"], ["asyncio", "processes"], ["echo"], (0,), (1,), {}, ["concbench", "run"])
    fast = Case("echo", (("size", 64),), 10, "asyncio")
    starving = Case("echo", (("size", 64),), 10, "processes")
    measurements = [(fast, ok_record(rep, 20000.0 + rep)) for rep in range(3)]
    measurements += [(starving, failed_record(rep)) for rep in range(3)]
    path = tmp_path / "result.json"
    write_suite(path, context, measurements)
    return path


def test_file_loads_in_pyperf_with_units(result_file):
    suite = pyperf.BenchmarkSuite.load(str(result_file))
    names = suite.get_benchmark_names()
    assert "echo/size=64/c=10/asyncio/time-per-request" in names
    bench = suite.get_benchmark("echo/size=64/c=10/asyncio/time-per-request")
    assert bench.get_unit() == "second"
    assert bench.get_nrun() == 3
    assert bench.median() == pytest.approx(1 / 20001.0)
    assert suite.get_benchmark("echo/size=64/c=10/asyncio/server-rss").get_unit() == "byte"


def test_failed_repetitions_give_no_figures(result_file):
    names = pyperf.BenchmarkSuite.load(str(result_file)).get_benchmark_names()
    assert "echo/size=64/c=10/processes/measurement" in names
    assert not [n for n in names if n.startswith("echo/size=64/c=10/processes/") and not n.endswith("/measurement")]


def test_records_round_trip_with_evidence(result_file):
    records = load_measurements(result_file)
    assert len(records) == 6
    failed = [r for r in records if r["runner"] == "processes"]
    assert {r["status"] for r in failed} == {"failed"}
    assert all(r["starved_connections"] == 7 and r["error_kinds"] == "timeout=7" for r in failed)
    ok = [r for r in records if r["runner"] == "asyncio"]
    assert sorted(r["throughput_rps"] for r in ok) == [20000.0, 20001.0, 20002.0]
    assert all(r["client_bound"] == 0 and r["framework_version"] for r in ok)
    assert all(r["git_commit"] and r["cpu_count"] and r["python_version"] for r in records)


def test_pyperf_command_line_reads_the_file(result_file, tmp_path):
    stats = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(result_file)],
                           capture_output=True, text=True)
    assert stats.returncode == 0, stats.stderr
    assert "time-per-request" in stats.stdout
    other = tmp_path / "other.json"
    other.write_bytes(result_file.read_bytes())
    compare = subprocess.run([sys.executable, "-m", "pyperf", "compare_to", str(result_file), str(other)],
                             capture_output=True, text=True)
    assert compare.returncode == 0, compare.stderr


def test_writing_leaves_no_temporary_files(result_file):
    assert [p.name for p in result_file.parent.iterdir()] == [result_file.name]


def test_truncated_or_foreign_files_are_refused(result_file, tmp_path):
    truncated = tmp_path / "truncated.json"
    truncated.write_text(result_file.read_text()[:500])
    with pytest.raises(NotAResult):
        load_measurements(truncated)
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(NotAResult):
        load_measurements(foreign)
    plain_pyperf = tmp_path / "plain.json"
    pyperf.BenchmarkSuite([pyperf.Benchmark([pyperf.Run([1.0], metadata={"name": "x"}, collect_metadata=False)])]
                          ).dump(str(plain_pyperf))
    with pytest.raises(NotAResult, match="not a concbench result"):
        load_measurements(plain_pyperf)
    with pytest.raises(NotAResult, match="no such file"):
        load_measurements(tmp_path / "missing.json")


def test_merged_files_number_their_repetitions(result_file, tmp_path):
    from concbench.results.format import merge_result_files
    merged = tmp_path / "merged" / "all.json"
    merge_result_files([result_file, result_file], merged, {"ab_variant": "A"})
    records = load_measurements(merged)
    assert len(records) == 2 * len(load_measurements(result_file))
    assert sorted({r["repetition"] for r in records}) == [0, 1]
    assert {r["ab_variant"] for r in records} == {"A"}
    suite = pyperf.BenchmarkSuite.load(str(merged))
    assert suite.get_benchmark("echo/size=64/c=10/asyncio/time-per-request").get_nrun() == 6
