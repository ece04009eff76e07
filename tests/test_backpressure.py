"""concbench backpressure: the memory-budget refusal, bad input, the unbounded variant's memory against a
bounded runner (ordinal only), and the command end to end at tiny sizes writing a result file, table and chart.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from concbench.studies import backpressure

from concbench import registry
from concbench.errors import UsageError
from concbench.results.format import load_measurements

from concbench.analysis.backpressure import backpressure_table, write_backpressure_chart

from .test_cli import assert_bad_input

MIB = 1 << 20


def concbench(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "concbench", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_memory_check_refuses_an_unbounded_plan_that_does_not_fit_and_names_the_fix():
    with pytest.raises(UsageError) as caught:
        backpressure.check_memory(["asyncio", "asyncio-unbounded"], 2, (0, 64), 256 * MIB, 8 << 30, 64 << 30)
    assert "asyncio-unbounded" in str(caught.value) and "--slow up to" in str(caught.value)
    backpressure.check_memory(["asyncio", "asyncio-unbounded"], 2, (0, 16), 256 * MIB, 8 << 30, 64 << 30)
    backpressure.check_memory(["asyncio"], 2, (0, 64), 256 * MIB, 8 << 30, 64 << 30)   # bounded: fits


def test_unbounded_server_peaks_higher_than_bounded_with_slow_readers():
    settings = {"slow_rate": float(MIB), "slow_rcvbuf": 16384, "warmup_s": 0.3, "window_s": 0.5, "budget": 4 << 30}
    params = registry.SCENARIOS["stream"].parse_params({"size": 48 * MIB})
    records = {runner: backpressure.measure(runner, params, 1, 4, settings, {}, None, None)
               for runner in ("asyncio", "asyncio-unbounded")}
    for record in records.values():
        assert record["status"] == "ok", record.get("first_error")
        assert record["server_peak_rss_bytes"] > 0 and record["memory_samples"] > 1
    assert records["asyncio-unbounded"]["server_peak_rss_bytes"] > records["asyncio"]["server_peak_rss_bytes"]


@pytest.mark.parametrize("args, message", [
    (["backpressure", "--runners", "nope"], "unknown runner 'nope'"),
    (["backpressure", "--slow", "-1"], "--slow must be 0 or more"),
    (["backpressure", "--fast", "-2"], "--fast must be 0 or more"),
    (["backpressure", "--fast", "0", "--slow", "0"], "no reader at all"),
    (["backpressure", "--slow", "many"], "invalid int value"),
    (["backpressure", "--size", "0"], "at least 1"),
    (["backpressure", "--window", "0"], "above 0"),
    (["backpressure", "--runners", "twisted-web"], "cannot serve stream"),
    (["backpressure", "--runners", "asyncio-unbounded", "--slow", "100"], "--slow up to"),
    (["backpressure", "--option", "processes:nope=1"], "no option 'nope'"),
    (["run", "--scenarios", "stream"], "measured by `concbench backpressure`"),
    (["load", "stream", "--target", "127.0.0.1:9", "--connections", "1", "--duration", "1"],
     "measured by `concbench backpressure`"),
])
def test_bad_input_exits_2_with_one_line(args, message):
    assert_bad_input(concbench(*args), message)


def test_run_all_scenarios_leaves_stream_out():
    from concbench.cli.plans import without_other_measures
    everything = registry.select(["all"], registry.SCENARIOS, "scenario")
    assert "stream" in everything and "stream" not in without_other_measures(["all"], everything)


def test_command_end_to_end_writes_a_result_file_table_and_chart(tmp_path):
    out = tmp_path / "bp.json"
    done = concbench("backpressure", "--runners", "asyncio", "asyncio-unbounded", "processes", "--slow", "0", "1",
                     "--fast", "1", "--size", str(MIB), "--repetitions", "1", "--warmup", "0.1", "--window", "0.3",
                     "-o", str(out), "--no-chart")
    assert done.returncode == 0, done.stderr
    records = load_measurements(out)
    assert {(r["runner"], r["slow_readers"]) for r in records} == {
        (runner, slow) for runner in ("asyncio", "asyncio-unbounded", "processes") for slow in (0, 1)}
    for record in records:
        assert record["status"] == "ok", record.get("first_error")
        assert record["errors"] == 0 and record["fast_bytes"] > 0 and record["server_peak_rss_bytes"] > 0
    processes = [r for r in records if r["runner"] == "processes"]
    assert sorted(r["processes_workers"] for r in processes) == [1, 2]       # one worker per reader
    import pyperf
    names = {b.get_name() for b in pyperf.BenchmarkSuite.load(str(out)).get_benchmarks()}
    assert f"stream/size={MIB}/fast=1/slow=1/asyncio-unbounded/server-peak-rss" in names
    table = backpressure_table(out)
    assert "asyncio-unbounded" in table and "1/1 ok" in table
    assert write_backpressure_chart(out, tmp_path / "bp.png").stat().st_size > 0
    shown = concbench("show", str(out))
    assert shown.returncode == 0 and "asyncio-unbounded" in shown.stdout
    from concbench.analysis.report import write_report                   # `concbench report` knows these files too
    index, summary, chart = write_report(out, tmp_path / "reports")
    assert chart.stat().st_size > 0 and "asyncio-unbounded" in summary.read_text()
