"""The churn scenario: one echo per connection, the server closes; the generator counts what goes wrong."""
from __future__ import annotations

import pytest

from concbench.clients.loadgen import LoadPlan, run_load
from concbench.results.measurement import loadgen_report
from concbench.scenarios.churn import SCENARIO, ChurnSession

from .brokenservers import BrokenServer

pytestmark = pytest.mark.usefixtures("each_engine")   # every test here, on both engines


def test_session_echoes_one_message_then_closes():
    session = ChurnSession(10)
    assert session.receive(b"01234") == b"01234" and not session.closing
    assert session.receive(b"56789extra") == b"56789" and session.closing
    assert session.receive(b"more") == b""


def drive(server, timeout_s=0.5):
    plan = LoadPlan("127.0.0.1", server.port, 2, warmup_s=0.05, duration_s=0.3, timeout_s=timeout_s)
    return loadgen_report(run_load(plan, SCENARIO.client_workload({"size": 64})))


def test_a_server_that_echoes_and_closes_passes():
    with BrokenServer(lambda data: data, close_after_reply=True) as server:
        report = drive(server)
    assert report["status"] == "ok", report["first_error"]
    assert report["requests"] > 0


def test_a_server_that_keeps_the_connection_open_times_out():
    with BrokenServer(lambda data: data) as server:
        report = drive(server, timeout_s=0.2)
    assert report["status"] == "failed" and report["error_kinds"].get("timeout", 0) >= 1


def test_a_wrong_echo_is_a_mismatch():
    with BrokenServer(lambda data: data[::-1], close_after_reply=True) as server:
        report = drive(server)
    assert report["status"] == "failed" and report["error_kinds"].get("mismatch", 0) >= 1
