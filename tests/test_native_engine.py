"""The native engine (concbench/clients/_engine.c, concbench/clients/native_engine.py): built where it can be, a clean
fallback where not, the same outcome as the uvloop engine, strict HTTP checks, and no crash on any reply.

The behaviour shared with the uvloop engine (broken servers, open loop, churn) is tested on both engines
by tests/test_loadgen.py, test_open_loop.py, test_churn.py and the conformance tests (fixture each_engine).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from array import array
from email.utils import formatdate
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from concbench.clients import native_engine
from concbench.clients.loadgen import LoadOutcome, LoadPlan, run_load
from concbench.results.measurement import loadgen_report, merge_reports
from concbench.scenarios.echo import SCENARIO as ECHO
from concbench.scenarios.http import SCENARIO as HTTP
from concbench.scenarios.http import ResponseCheck

from .brokenservers import BrokenServer

ROOT = Path(__file__).resolve().parent.parent
native_only = pytest.mark.skipif(not native_engine.available(), reason=native_engine.UNAVAILABLE_BECAUSE)


def plan(port, connections=2, duration_s=0.2, timeout_s=5.0, **changes) -> LoadPlan:
    return LoadPlan("127.0.0.1", port, connections, warmup_s=0.02, duration_s=duration_s, timeout_s=timeout_s,
                    **changes)


def http_reply(status=b"200 OK", body=b"Hello, World!", date=None, extra=b"", length=None):
    date = date if date is not None else formatdate(usegmt=True).encode()
    length = str(len(body)).encode() if length is None else length
    return (b"HTTP/1.1 " + status + b"\r\nServer: t\r\nContent-Type: text/plain\r\nContent-Length: " + length
            + b"\r\nDate: " + date + b"\r\n" + extra + b"\r\n" + body)


# --- building and falling back ---------------------------------------------------------------
def test_native_engine_is_built_where_a_compiler_exists():
    if sys.platform != "linux" or not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here: the uvloop engine is the right outcome")
    assert native_engine.available(), native_engine.UNAVAILABLE_BECAUSE
    assert native_engine.resolve(None) == "native"


def test_a_failed_build_is_a_warning_and_the_build_succeeds(tmp_path):
    env = {**os.environ, "CC": "false", "LDSHARED": "false"}
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(tmp_path / "lib"),
                           "--build-temp", str(tmp_path / "temp")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "native load-generator engine was not built" in done.stderr
    assert not list((tmp_path / "lib").rglob("_engine*.so"))


def test_without_the_extension_the_uvloop_engine_runs_and_says_why_once(monkeypatch, capsys):
    monkeypatch.delenv("CONCBENCH_ENGINE", raising=False)
    monkeypatch.setattr(native_engine, "_engine", None)
    monkeypatch.setattr(native_engine, "UNAVAILABLE_BECAUSE", "the native engine is not built (test)")
    monkeypatch.setattr(native_engine, "_said_why", False)
    assert native_engine.resolve(None) == "uvloop"
    assert native_engine.resolve(None) == "uvloop"
    assert capsys.readouterr().err.count("engine uvloop: the native engine is not built (test)") == 1
    with pytest.raises(ValueError, match="not built"):
        native_engine.resolve("native")
    with BrokenServer(lambda data: data) as server:
        report = loadgen_report(run_load(plan(server.port), ECHO.client_workload({"size": 64})))
    assert report["status"] == "ok", report["first_error"]
    assert report["engine"] == "uvloop"


@pytest.mark.usefixtures("each_engine")
def test_the_engine_is_recorded_in_the_report(each_engine):
    with BrokenServer(lambda data: data) as server:
        report = loadgen_report(run_load(plan(server.port), ECHO.client_workload({"size": 64})))
    assert report["status"] == "ok", report["first_error"]
    assert report["engine"] == each_engine


# --- the same outcome as the uvloop engine -----------------------------------------------------
def test_the_same_latencies_give_the_same_percentiles_and_histogram():
    values = array("q", [1_000 * (k % 997 + 1) for k in range(20_000)])
    reports = []
    for engine in ("native", "uvloop"):
        outcome = LoadOutcome(plan(1), window_s=1.0, requests=len(values), latencies_ns=array("q", values),
                              engine=engine)
        reports.append(loadgen_report(outcome))
    native, uvloop = reports
    for key in ("latency_p50_s", "latency_p90_s", "latency_p99_s", "latency_p99_9_s", "latency_max_s",
                "latency_mean_s", "latency_histogram", "throughput_rps"):
        assert native[key] == uvloop[key], key


@native_only
def test_reports_of_both_engines_merge():
    with BrokenServer(lambda data: data) as server:
        parts = [loadgen_report(run_load(plan(server.port), ECHO.client_workload({"size": 64}), engine=engine))
                 for engine in ("native", "uvloop")]
    merged = merge_reports(parts)
    assert merged["status"] == "ok", merged["first_error"]
    assert merged["requests"] == parts[0]["requests"] + parts[1]["requests"]
    assert merged["engine"] == "native+uvloop"


@native_only
def test_loadgen_procs_run_the_native_engine():
    from concbench.clients.loadgen_procs import run_load_processes
    events = []
    with BrokenServer(lambda data: data) as server:
        report = run_load_processes(plan(server.port, connections=4), ECHO.client_workload({"size": 64}), 2,
                                    None, events.append, engine="native")
    assert report["status"] == "ok", report["first_error"]
    assert report["engine"] == "native" and report["loadgen_parts"] == 2
    assert events == ["connected", "window_start", "window_end"]


@native_only
def test_phase_events_come_in_order_with_the_window_between_them():
    events = []
    with BrokenServer(lambda data: data) as server:
        outcome = run_load(plan(server.port), ECHO.client_workload({"size": 64}), events.append, engine="native")
    assert events == ["connected", "window_start", "window_end"]
    assert outcome.window_s > 0 and outcome.loadgen_cores


@native_only
def test_an_exception_in_an_event_handler_ends_the_run_and_is_raised():
    def handler(name):
        if name == "window_start":
            raise RuntimeError("handler failed")

    with BrokenServer(lambda data: data) as server:
        with pytest.raises(RuntimeError, match="handler failed"):
            run_load(plan(server.port), ECHO.client_workload({"size": 64}), handler, engine="native")


# --- HTTP: exactly as strict as the Python check ---------------------------------------------------
class CountingCheck(ResponseCheck):
    calls = 0

    def problem(self, message):
        CountingCheck.calls += 1
        return super().problem(message)


def counting_workload():
    from concbench.scenarios.base import ClientWorkload
    return ClientWorkload(HTTP.client_workload({}).exchanges, response_check=CountingCheck)


@native_only
def test_a_header_block_is_handed_to_python_once_then_accepted_by_its_bytes():
    CountingCheck.calls = 0
    fixed = http_reply()
    with BrokenServer(lambda data: fixed) as server:
        report = loadgen_report(run_load(plan(server.port), counting_workload(), engine="native"))
    assert report["status"] == "ok", report["first_error"]
    assert report["verified_replies_total"] >= 3             # ramp-up and at least two more, one judgement
    assert CountingCheck.calls == 1


@native_only
def test_each_new_header_block_is_judged_by_python():
    CountingCheck.calls = 0
    replies = [http_reply(date=formatdate(usegmt=True).encode()), http_reply(extra=b"X-A: 1\r\n"),
               http_reply(extra=b"X-B: 2\r\n")]
    turn = iter(range(1 << 30))
    with BrokenServer(lambda data: replies[next(turn) % 3]) as server:
        report = loadgen_report(run_load(plan(server.port, connections=1), counting_workload(), engine="native"))
    assert report["status"] == "ok", report["first_error"]
    assert CountingCheck.calls == 3


@native_only
@pytest.mark.parametrize("reply, words", [
    (http_reply(body=b"Hello, World?"), "body"),
    (http_reply(status=b"500 Internal Server Error"), "status"),
    (http_reply(date=b"Mon, 01 Jan 2001 00:00:00 GMT"), "not current"),
    (http_reply(extra=b"Connection: close\r\n"), "closes"),
    (http_reply().replace(b"Server: t\r\n", b""), "Server"),
    (http_reply().replace(b"text/plain", b"text/html"), "Content-Type"),
    (http_reply() + b"X", "after the reply"),
    (http_reply().replace(b"Content-Length: 13", b"Content-Length: x"), "cannot be framed"),
    (http_reply().replace(b"Content-Length: 13", b"Content-Length: 99999999999"), "larger than"),
    (b"garbage\r\n\r\n", "cannot be framed"),
])
def test_wrong_http_replies_are_mismatches(reply, words):
    with BrokenServer(lambda data: reply) as server:
        report = loadgen_report(run_load(plan(server.port), HTTP.client_workload({}), engine="native"))
    assert report["status"] == "failed"
    assert report["error_kinds"].get("mismatch", 0) >= 1, report
    assert words in report["first_error"]


@native_only
def test_a_short_http_reply_times_out():
    with BrokenServer(lambda data: http_reply()[:-3]) as server:
        report = loadgen_report(run_load(plan(server.port, timeout_s=0.2), HTTP.client_workload({}),
                                         engine="native"))
    assert report["status"] == "failed" and report["error_kinds"].get("timeout", 0) >= 1


# --- fuzz: malformed, truncated and oversized replies never crash the engine ----------------------
class Scripted(BrokenServer):
    """One server for every example: its reply is whatever the example sets."""

    def __init__(self):
        self.current = b""
        super().__init__(lambda data: self.current, close_after_reply=False)


@pytest.fixture(scope="module")
def scripted():
    with Scripted() as server:
        yield server


def fuzz_plan(port, timeout_s=0.1):
    """A short run: a reply that cannot be framed fails by the timeout, so each such example costs timeout_s."""
    return LoadPlan("127.0.0.1", port, 1, warmup_s=0.0, duration_s=0.05, timeout_s=timeout_s)


http_pieces = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda n, body: http_reply(body=body, length=str(n).encode()),
              st.integers(min_value=0, max_value=1 << 40), st.binary(max_size=64)),
    st.builds(lambda cut: http_reply()[:cut], st.integers(min_value=0, max_value=120)),
    st.builds(lambda size: http_reply(extra=b"X-Pad: " + b"a" * size + b"\r\n"),
              st.integers(min_value=0, max_value=60_000)),
    st.builds(lambda junk: http_reply() + junk, st.binary(min_size=1, max_size=100)),
)


@native_only
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=http_pieces)
def test_fuzz_http_replies_are_counted_never_a_crash(scripted, reply):
    scripted.current = reply
    # a correct reply must pass however busy the machine: its timeout is far above a loopback reply's time
    report = loadgen_report(run_load(fuzz_plan(scripted.port, timeout_s=0.5), HTTP.client_workload({}),
                                     engine="native"))
    oracle = ResponseCheck()             # the uvloop engine's judgement of the same reply
    if reply and oracle.frame(reply) == len(reply) and oracle.problem(reply) is None:
        assert report["status"] == "ok", report["first_error"]
    else:
        assert report["status"] == "failed"
        assert report["errors"] >= 1


@native_only
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=st.one_of(st.binary(max_size=200),
                       st.builds(lambda head, fill, size: head + bytes([fill]) * size,     # oversized, cheap to draw
                                 st.binary(max_size=64), st.integers(0, 255), st.integers(70_000, 200_000))))
def test_fuzz_echo_replies_are_counted_never_a_crash(scripted, reply):
    scripted.current = reply
    report = loadgen_report(run_load(fuzz_plan(scripted.port), ECHO.client_workload({"size": 64}), engine="native"))
    assert report["status"] == "failed"            # no reply here is the 64 B echo of the request
    assert report["errors"] >= 1


def test_run_passes_the_chosen_engine_to_every_load(monkeypatch):
    from dataclasses import replace

    from concbench.studies import orchestrate
    from concbench.studies.profiles import PROFILES
    seen = []
    monkeypatch.setattr(orchestrate, "run_event_child",
                        lambda command, deadline_s, on_event, what: (seen.append(command) or ({"status": "ok"}, "")))
    case = orchestrate.Case("echo", (("size", 64),), 10, "asyncio")
    for engine in ("uvloop", None):
        orchestrate.run_loadgen(case, 5000, replace(PROFILES["quick"], engine=engine), (1,),
                                lambda name: None)
    assert seen[0][seen[0].index("--engine") + 1] == "uvloop"
    assert "--engine" not in seen[1]               # the load process's own default (native where built)


@native_only
@pytest.mark.parametrize("spin_us", ["0", "50"])
@pytest.mark.parametrize("timer", ["epoll_pwait2", "timerfd"])
def test_open_loop_keeps_the_timetable_with_either_timer(monkeypatch, timer, spin_us):
    monkeypatch.setenv("CONCBENCH_ENGINE_SPIN_US", spin_us)        # with and without polling before sleeping
    if timer == "timerfd":
        monkeypatch.setenv("CONCBENCH_ENGINE_TIMERFD", "1")
    with BrokenServer(lambda data: data) as server:
        report = loadgen_report(run_load(plan(server.port, connections=4, duration_s=1.0, rate=600),
                                         ECHO.client_workload({"size": 64}), engine="native"))
    assert report["status"] == "ok", report["first_error"]
    assert 0.97 < report["achieved_ratio"] < 1.03         # counting noise of a short window, not a speed
    assert report["overloaded"] is False


# --- polling before sleeping (spin_us): the same verdicts, and its idle time is not load-generator work -------
@native_only
@pytest.mark.parametrize("spin_us", ["0", "1000"])             # never, and a spell longer than any reply's time
@pytest.mark.parametrize("broken, kind", [
    (lambda data: data[:-1] + b"!", "mismatch"),
    (lambda data: data[:10], "timeout"),
])
def test_broken_echo_servers_are_caught_with_and_without_polling(monkeypatch, spin_us, broken, kind):
    monkeypatch.setenv("CONCBENCH_ENGINE_SPIN_US", spin_us)
    with BrokenServer(broken) as server:
        report = loadgen_report(run_load(plan(server.port, timeout_s=0.3), ECHO.client_workload({"size": 64}),
                                         engine="native"))
    assert report["status"] == "failed"
    assert report["error_kinds"].get(kind, 0) >= 1, report["first_error"]


@native_only
@pytest.mark.parametrize("spin_us", ["0", "1000"])
def test_correct_http_replies_pass_with_and_without_polling(monkeypatch, spin_us):
    monkeypatch.setenv("CONCBENCH_ENGINE_SPIN_US", spin_us)
    with BrokenServer(lambda data: http_reply()) as server:
        report = loadgen_report(run_load(plan(server.port), HTTP.client_workload({}), engine="native"))
    assert report["status"] == "ok", report["first_error"]
    assert report["requests"] > 0


@pytest.mark.parametrize("text, expected", [(None, native_engine.DEFAULT_SPIN_US), ("0", 0.0), ("12.5", 12.5)])
def test_the_polling_time_comes_from_the_environment(monkeypatch, text, expected):
    if text is None:
        monkeypatch.delenv("CONCBENCH_ENGINE_SPIN_US", raising=False)
    else:
        monkeypatch.setenv("CONCBENCH_ENGINE_SPIN_US", text)
    assert native_engine.spin_us() == expected


@pytest.mark.parametrize("text", ["-1", "lots", "2000000"])
def test_a_bad_polling_time_is_refused_with_its_name(monkeypatch, text):
    monkeypatch.setenv("CONCBENCH_ENGINE_SPIN_US", text)
    with pytest.raises(ValueError, match="CONCBENCH_ENGINE_SPIN_US"):
        native_engine.spin_us()


@native_only
def test_the_c_loop_refuses_a_negative_polling_time():
    with pytest.raises(ValueError, match="spin_us"):
        native_engine._engine.run(2, "127.0.0.1", 9, ((b"x", b"x"),), 1, 0.0, 0.0, 1.0, 1.0, 0.0, spin_us=-1.0)


def test_polling_time_is_left_out_of_the_load_generators_cpu_evidence(monkeypatch):
    """The C loop reports the CPU time it spent polling with nothing to do; run_native takes it out of the
    process's CPU time and of the cores' busy share (readings faked: the arithmetic, not the machine)."""
    from collections import namedtuple
    Times = namedtuple("Times", "user idle")
    readings = iter([{1: Times(0.0, 0.0)}, {1: Times(6.0, 4.0)}])      # the core 60% busy in the window
    clock = iter([10.0, 13.0])                                          # the process used 3 s of CPU

    class FakeEngine:
        @staticmethod
        def run(*args, on_event, **kwargs):
            for name in ("connected", "window_start", "window_end"):
                on_event(name)
            return {"errors": {}, "first_error": b"", "connected": 1, "ramped": 1, "reconnects": 0,
                    "served_connections": 1, "verified_replies_total": 0, "latencies": b"",
                    "latencies_uncorrected": b"", "lateness": b"", "backlog_end": 0.0, "window_s": 10.0,
                    "idle_polling_cpu_s": 2.0}

    monkeypatch.setattr(native_engine, "_engine", FakeEngine)
    monkeypatch.setattr(native_engine.cpu, "read_cores", lambda: next(readings))
    monkeypatch.setattr(native_engine.cpu, "busy_pct",
                        lambda a, b, cores: 100.0 * (b[1].user - a[1].user) / sum(b[1]))
    monkeypatch.setattr(native_engine.time, "process_time", lambda: next(clock))
    monkeypatch.setattr(native_engine.os, "sched_getaffinity", lambda pid: {1})
    outcome = native_engine.run_native(plan(9), ECHO.client_workload({"size": 64}))
    assert outcome.loadgen_cpu_s == pytest.approx(1.0)                  # 3 s of CPU, 2 of them polling
    assert outcome.loadgen_core_busy_pct == pytest.approx(40.0)        # 60% busy less 2 s of a 10 s window
