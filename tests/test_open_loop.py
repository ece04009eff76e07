"""Open-loop load: the timetable holds the offered rate, and a server stall shows in corrected latency only.

The wrk2 README's example: closed-loop and uncorrected percentiles hide a stall; latency measured
from the intended send time shows it. Asserts relations between figures, never absolute times.
"""
from __future__ import annotations

import threading
import time

import pytest

from concbench.clients.loadgen import LoadPlan, run_load
from concbench.results.measurement import loadgen_report
from concbench.scenarios.echo import SCENARIO

from .brokenservers import BrokenServer

pytestmark = pytest.mark.usefixtures("each_engine")   # every test here, on both engines

STALL_S = 0.4


class StallingEcho:
    """Echo, except that the whole server freezes once for STALL_S, 0.3 s after its first request."""

    def __init__(self):
        self.first = None
        self.lock = threading.Lock()

    def __call__(self, data: bytes) -> bytes:
        with self.lock:
            now = time.monotonic()
            self.first = self.first or now
            stall_end = self.first + 0.3 + STALL_S
        if self.first + 0.3 <= now < stall_end:
            time.sleep(stall_end - now)
        return data


def drive(port, rate=None, arrival="uniform"):
    plan = LoadPlan("127.0.0.1", port, 8, warmup_s=0.0, duration_s=1.2, timeout_s=3.0, rate=rate, arrival=arrival)
    return loadgen_report(run_load(plan, SCENARIO.client_workload({"size": 64})))


def test_stall_shows_in_corrected_latency_only():
    with BrokenServer(StallingEcho()) as server:
        report = drive(server.port, rate=1000)
    assert report["status"] == "ok", report["first_error"]
    # one request per connection sat through the stall: well under 1% of all, so uncorrected p99 is small
    assert report["latency_uncorrected_max_s"] > 10 * report["latency_uncorrected_p99_s"]
    # every request due during the stall waited for it when measured from its intended time
    assert report["latency_p99_s"] > 10 * report["latency_uncorrected_p99_s"]
    assert report["latency_max_s"] >= report["latency_uncorrected_max_s"]


def test_closed_loop_hides_the_same_stall():
    with BrokenServer(StallingEcho()) as server:
        closed = drive(server.port)
    assert closed["status"] == "ok", closed["first_error"]
    assert closed["mode"] == "closed"
    assert closed["latency_max_s"] > 10 * closed["latency_p99_s"]     # the stall is there, p99 does not see it


def test_achieved_rate_follows_the_offered_rate_when_the_server_keeps_up():
    with BrokenServer(lambda data: data) as server:
        report = drive(server.port, rate=800)
    assert report["status"] == "ok", report["first_error"]
    assert report["offered_rate"] == 800
    assert 0.97 < report["achieved_ratio"] < 1.03         # counting noise of a short window, not a speed
    assert report["overloaded"] is False


def test_poisson_arrivals_are_accepted_and_verified():
    with BrokenServer(lambda data: data) as server:
        report = drive(server.port, rate=800, arrival="poisson")
    assert report["status"] == "ok", report["first_error"]
    assert report["arrival"] == "poisson" and report["requests"] > 0


def test_a_server_that_cannot_keep_up_is_marked_overloaded():
    def slow(data):
        time.sleep(0.01)                  # at most ~100 replies/s per connection
        return data

    with BrokenServer(slow) as server:
        report = drive(server.port, rate=5000)
    assert report["overloaded"] is True
    assert report["achieved_ratio"] < 0.99
