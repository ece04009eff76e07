"""concbench memory: the fit, the open-file refusal, bad input, and a leaky server against a normal one.

Levels are small (20 and 60 connections) so the tests are quick; no test asserts an exact size.
"""
from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from concbench.studies import memory
from concbench.errors import UsageError
from concbench.results.format import RunContext, load_measurements, write_memory_suite
from concbench.studies.profiles import PROFILES
from concbench.harness.server_process import ServerProcess

from concbench.analysis.memory import memory_table, write_memory_chart

from .test_cli import assert_bad_input

MIB = 1 << 20


class LeakyServerProcess(ServerProcess):
    """tests/leakyserver.py, started and stopped like any `concbench serve`."""

    def __init__(self, leak_bytes: int):
        super().__init__("asyncio", "echo", {"size": 64}, None)
        self.command = [sys.executable, "-m", "tests.leakyserver", str(leak_bytes)]


def test_fit_recovers_slope_and_intercept_of_known_points():
    slope, intercept = memory.fit_line([1000, 5000, 10000], [3_000_000 + 2048 * n for n in (1000, 5000, 10000)])
    assert slope == pytest.approx(2048)
    assert intercept == pytest.approx(3_000_000)
    slope, intercept = memory.fit_line([0, 1, 2], [1.0, 2.0, 4.0])   # least squares, not two-point
    assert slope == pytest.approx(1.5) and intercept == pytest.approx(5 / 6)
    with pytest.raises(ValueError):
        memory.fit_line([10, 10], [1.0, 2.0])


def test_a_level_beyond_the_open_file_limit_is_refused_with_the_fix():
    with pytest.raises(UsageError) as caught:
        memory.check_open_files([1000, 5000, 10000], 10, 4096)
    message = str(caught.value)
    assert "10000 connections need 10074 open files; the hard limit is 4096" in message
    assert "ulimit -Hn" in message and "--levels" in message
    memory.check_open_files([1000, 3000], 10, 4096)          # fits: no exception


def concbench(*args, preexec_fn=None):
    return subprocess.run([sys.executable, "-m", "concbench", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, preexec_fn=preexec_fn)


def test_the_cli_refuses_before_starting_anything_under_a_low_hard_limit():
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    done = concbench("memory", "--runners", "asyncio", "--levels", "100", "1000", preexec_fn=low_limit)
    assert done.returncode == 2
    assert done.stderr.strip() == ("concbench: error: 1000 connections need 1074 open files; the hard limit "
                                   "is 256: raise it with ulimit -Hn or /etc/security/limits.conf, "
                                   "or use --levels up to 182")
    assert "concbench memory:" not in done.stdout            # nothing started


@pytest.mark.parametrize("args, message", [
    (["memory", "--runners", "nope"], "unknown runner 'nope'"),
    (["memory", "--levels", "ten"], "whole number"),
    (["memory", "--levels", "0"], "at least 1"),
    (["memory", "--levels", "100"], "at least two levels"),
    (["memory", "--runners", "reference-c"], "not a Python model"),
    (["memory", "--option", "threads:nope=1"], "no option 'nope'"),
    (["memory", "--runners", "twisted-web"], "cannot hold echo connections"),
])
def test_bad_input_exits_2_with_one_line(args, message):
    assert_bad_input(concbench(*args), message)


def test_leaky_server_costs_more_per_connection_than_a_normal_one(tmp_path):
    levels = (20, 60)
    leaky = memory.measure_runner("asyncio", levels, 5, {}, None, None,
                                  start_server=lambda _: LeakyServerProcess(MIB).start())
    normal = memory.measure_runner("threads", levels, 5, {}, None, None)
    for record in (leaky, normal):
        assert record["status"] == "ok", record.get("first_error")
        assert record["rss_per_connection_bytes"] > 0 and record["pss_per_connection_bytes"] > 0
        assert record["connections_held"] == "25,65"
        assert record["kernel_method"] in ("cgroup2", "meminfo-calibrated")
    assert leaky["pss_per_connection_bytes"] > normal["pss_per_connection_bytes"]
    assert leaky["rss_per_connection_bytes"] > normal["rss_per_connection_bytes"]
    assert normal["threads_per_connection"] > 0.9        # one thread per connection

    # the result file round-trips: pyperf format, records back, a table and a chart from the file alone
    context = RunContext.collect(PROFILES["quick"], ["asyncio", "threads"], ["echo"], (0,), (1,), {},
                                 ["concbench", "memory"])
    path = tmp_path / "memory.json"
    write_memory_suite(path, context, [("asyncio", {**leaky, "benchmark": "memory-idle", "repetition": 0}),
                                       ("threads", {**normal, "benchmark": "memory-idle", "repetition": 0})])
    records = load_measurements(path)
    assert {r["runner"] for r in records} == {"asyncio", "threads"}
    assert "threads" in memory_table(path)
    assert write_memory_chart(path, tmp_path / "memory.png").stat().st_size > 0
    from concbench.analysis.report import write_report                   # `concbench report` knows memory files too
    index, summary, chart = write_report(path, tmp_path / "reports")
    assert chart.stat().st_size > 0 and "threads" in summary.read_text()
