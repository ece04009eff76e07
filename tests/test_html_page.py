"""The report's index.html and the result file's stability flags, from a synthetic run of two runners at two
levels: verdicts first, scenarios in words with the registry's explanation, a sortable table, charts linked to
full size, PSS named as such; and `show --json` rows and the flags read back from the file."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from concbench.analysis.export import case_rows
from concbench.analysis.report import write_report
from concbench.studies.orchestrate import Case
from concbench.studies.profiles import PROFILES
from concbench.registry import SCENARIOS
from concbench.studies.repetitions import mark_stability
from concbench.results.format import RunContext, load_measurements, write_suite

from .test_results import ok_record


@pytest.fixture
def two_level_result(tmp_path):
    return write_two_level_result(tmp_path)


def write_two_level_result(tmp_path):
    """asyncio and gevent at 1 connection (asyncio clearly 2x, stable) and 100 (noisy: no clear difference)."""
    context = RunContext.collect(PROFILES["quick"], ["asyncio", "gevent"], ["echo"], (0,), (1,), {},
                                 ["concbench", "run"])
    figures = {("asyncio", 1): [20_000, 20_300, 19_900], ("gevent", 1): [10_000, 10_100, 9_950],
               ("asyncio", 100): [30_000, 60_000, 41_000], ("gevent", 100): [52_000, 31_000, 39_000]}
    measurements = [(Case("echo", (("size", 64),), level, runner), ok_record(rep, value))
                    for (runner, level), values in figures.items() for rep, value in enumerate(values)]
    mark_stability(measurements)
    path = tmp_path / "two-levels.json"
    write_suite(path, context, measurements)
    return path


def test_the_page_reads_as_the_issue_asks(two_level_result, tmp_path):
    index = write_report(two_level_result, tmp_path / "reports")[0]
    page = index.read_text()
    assert page.index("<h2>Verdicts</h2>") < page.index("<table class='sortable'>") < page.index("<h2>Charts</h2>")
    assert "<h3 id='echo-size-64'>echo, 64-byte messages</h3>" in page                # words, not file names
    assert SCENARIOS["echo"].summary in page                                         # explained from the registry
    assert "At 1 connection asyncio is clearly fastest" in page
    assert "; at 100 connections no clear difference between" in page
    assert "<a href='echo-size64.png'>" in page and "full size" in page               # linked to the full PNG
    assert "PSS MiB" in page and "proportional set size" in page and "RSS" not in page.split("<dl>")[0]
    assert "unstable case" in page and "<script>" in page and "th.dataset.order" in page
    summary = (index.parent / "summary.md").read_text()
    assert "Verdicts (throughput" in summary and "UNSTABLE" in summary


def test_stability_flags_round_trip_through_the_result_file(two_level_result):
    records = load_measurements(two_level_result)
    stable = {r["runner"] for r in records if r["offered_connections"] == 1 and r["case_unstable"] == 0}
    unstable = {r["runner"] for r in records if r["offered_connections"] == 100 and r["case_unstable"] == 1}
    assert stable == unstable == {"asyncio", "gevent"}
    assert all("pin the server" in r["case_stability_hint"] for r in records if r["case_unstable"])
    assert all(r["case_interval_half_width"] > 0 for r in records)


def test_show_json_rows_carry_the_verdict(two_level_result):
    rows = {(r["connections"], r["runner"]): r for r in case_rows(load_measurements(two_level_result))}
    slower = rows[(1, "gevent")]
    assert slower["best_runner"] == "asyncio" and slower["clear_difference"] is True
    assert 1.9 < slower["ratio_low"] < slower["ratio_best_to_this"] < slower["ratio_high"] < 2.1
    assert rows[(1, "asyncio")]["ratio_best_to_this"] == 1.0
    assert rows[(100, "gevent")]["clear_difference"] is False and rows[(100, "gevent")]["unstable"]
    done = subprocess.run([sys.executable, "-m", "concbench", "show", str(two_level_result), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert len(json.loads(done.stdout)) == 4


def test_show_csv_of_a_result_with_its_own_table_gives_its_records():
    from concbench.analysis.export import rows_csv
    records = [{"benchmark": "memory-idle", "runner": "asyncio", "pss_per_connection_bytes": 1500.0},
               {"benchmark": "memory-idle", "runner": "threads", "pss_per_connection_bytes": 9000.0, "extra": 1}]
    lines = rows_csv(records).splitlines()
    assert lines[0] == "benchmark,runner,pss_per_connection_bytes,extra"
    assert lines[2] == "memory-idle,threads,9000.0,1"
