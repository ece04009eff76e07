"""Slow clients: the trickler trickles, verifies every reply, stops by itself; `run --slow-clients` records
them, reports a starved worker pool as a finding, and refuses bad input. No test asserts a speed."""
from __future__ import annotations

import subprocess
import sys
import time

from concbench.analysis.report import write_report
from concbench.studies.orchestrate import plan_cases
from concbench.studies.profiles import PROFILES
from concbench.results.format import load_measurements
from concbench.clients.slow_clients import SlowClients, TricklePlan, run_trickler
from concbench.scenarios import echo, http

from .brokenservers import BrokenServer, flip_last_byte
from .test_cli import assert_bad_input, concbench

HTTP_WORKLOAD = http.client_workload({})


def good_reply(body: bytes = http.BODY) -> bytes:
    """A response the http check accepts, dated now (the check wants a current Date)."""
    return http.response(b"200 OK", body, http.HttpDate(time.time).now())


class PieceCountingHttpServer(BrokenServer):
    """Counts the recv() pieces each request arrives in; answers a whole request with reply()."""

    def __init__(self, reply=good_reply):
        self.pieces_per_request: list[int] = []
        super().__init__(reply)

    def _serve(self, conn):
        buffered, pieces = b"", 0
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buffered, pieces = buffered + data, pieces + 1
                if buffered.endswith(b"\r\n\r\n"):
                    self.pieces_per_request.append(pieces)
                    buffered, pieces = b"", 0
                    conn.sendall(self.reply())
        except OSError:
            return


def test_requests_arrive_in_pieces_and_verified_replies_are_counted():
    with PieceCountingHttpServer() as server:
        plan = TricklePlan("127.0.0.1", server.port, 2, step_bytes=8, interval_s=0.01, deadline_s=60.0,
                           max_requests=4)
        outcome = run_trickler(plan, HTTP_WORKLOAD)
    assert outcome.stopped_by == "max-requests"
    assert outcome.requests == 4 and sum(outcome.errors.values()) == 0
    assert outcome.connected == 2 and outcome.served_connections == 2
    pieces_needed = -(-len(http.REQUEST) // 8)
    assert outcome.pieces >= 4 * pieces_needed
    assert len(server.pieces_per_request) >= 4
    assert all(pieces > 1 for pieces in server.pieces_per_request)     # never the whole request at once


def test_a_wrong_reply_is_counted_as_an_error():
    with PieceCountingHttpServer(lambda: good_reply(b"Hello, Wrong!")) as server:
        plan = TricklePlan("127.0.0.1", server.port, 3, step_bytes=16, interval_s=0.01, deadline_s=3.0)
        outcome = run_trickler(plan, HTTP_WORKLOAD)
    assert outcome.requests == 0
    assert outcome.errors["mismatch"] == 3 and "body" in outcome.first_error
    assert outcome.stopped_by == "deadline" and outcome.held == 0


def test_echo_trickles_and_verifies_each_piece_coming_back():
    workload = echo.client_workload({"size": 64})
    with BrokenServer(lambda data: data) as server:
        plan = TricklePlan("127.0.0.1", server.port, 2, step_bytes=16, interval_s=0.01, max_requests=4)
        good = run_trickler(plan, workload)
    with BrokenServer(flip_last_byte) as server:
        plan = TricklePlan("127.0.0.1", server.port, 2, step_bytes=16, interval_s=0.01, deadline_s=3.0)
        bad = run_trickler(plan, workload)
    assert good.requests == 4 and sum(good.errors.values()) == 0
    assert bad.requests == 0 and bad.errors["mismatch"] == 2


def test_a_silent_server_gives_timeouts_and_the_clients_stay_connected():
    with BrokenServer(lambda data: None) as server:
        plan = TricklePlan("127.0.0.1", server.port, 2, step_bytes=64, interval_s=0.01, reply_timeout_s=0.2,
                           deadline_s=3.0)
        outcome = run_trickler(plan, HTTP_WORKLOAD)
    assert outcome.errors["timeout"] == 2 and outcome.requests == 0
    assert outcome.held == 2 and outcome.waiting == 2


def test_the_process_stops_by_itself_at_its_deadline_without_being_told():
    with BrokenServer(lambda data: None) as server:
        slow = SlowClients("http", {}, "127.0.0.1", server.port, 3, None, deadline_s=0.5)
        try:
            assert slow.ready()["connected"] == 3
            assert slow.proc.wait(timeout=60) == 0            # exits; stdin was never closed
            result = slow.finish()                           # its result, printed before it exited
        finally:
            slow.close()
    assert result["stopped_by"] == "deadline" and result["held"] == 3


def test_plan_has_a_case_per_slow_level_and_none_without_the_option():
    from dataclasses import replace
    plain = plan_cases(["http"], ["asyncio"], PROFILES["quick"])
    assert {c.slow_clients for c in plain} == {None} and "slow" not in plain[0].label()
    slow = plan_cases(["http"], ["asyncio"], replace(PROFILES["quick"], slow_clients=(0, 100)))
    assert len(slow) == 2 * len(plain)
    assert {c.label() for c in slow if c.connections == 10} == {"http  c=10 slow=0", "http  c=10 slow=100"}


def run_tiny(tmp_path, *args):
    out = tmp_path / "slow.json"
    done = subprocess.run(
        [sys.executable, "-m", "concbench", "run", "--scenarios", "http", "--connections", "2", "--repetitions", "1",
         "--warmup", "0.1", "--duration", "0.3", "--timeout", "0.5", "--no-report", "-o", str(out), *args],
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done, load_measurements(out), out


def test_run_with_slow_clients_records_them_and_charts_them(tmp_path):
    done, records, out = run_tiny(tmp_path, "--runners", "asyncio", "--slow-clients", "0", "5",
                                  "--slow-step-bytes", "16", "--slow-interval", "0.02",
                                  "--timeout", "10")     # every reply must come; a loaded machine may be slow
    by_level = {r["slow_clients"]: r for r in records}
    assert sorted(by_level) == [0, 5]
    assert all(r["status"] == "ok" and r["requests"] > 0 for r in records)
    slow = by_level[5]
    assert slow["slow_connected"] == 5 and slow["slow_held"] == 5 and "slow_errors" in slow
    assert slow["slow_errors"] == 0 and slow["slow_step_bytes"] == 16 and slow["slow_cpu_s"] > 0
    assert "slow_connected" not in by_level[0]
    assert "slow=5" in done.stdout and "slow clients:" in done.stdout
    charts = write_report(out, tmp_path / "reports")[2:]
    assert [c.name for c in charts] == ["http-c2-slow-clients.png"] and charts[0].stat().st_size > 10_000


def test_a_worker_pool_tied_up_by_slow_clients_is_reported_as_starved_not_a_crash(tmp_path):
    done, records, _ = run_tiny(tmp_path, "--runners", "processes", "-O", "processes:workers=1",
                                "--slow-clients", "3")
    (record,) = records
    assert record["status"] == "failed" and record["starved_connections"] == 2
    assert record["slow_clients"] == 3 and record["slow_connected"] == 3
    assert "fast clients starved: 2/2 connections never served" in done.stdout
    assert "FAILED: fast clients 2/2 starved" in done.stdout


def test_bad_slow_client_input_exits_2_with_one_line():
    assert_bad_input(concbench("run", "--slow-clients", "-1"), "at least 0")
    assert_bad_input(concbench("run", "--slow-clients", "x"), "whole number")
    assert_bad_input(concbench("run", "--slow-clients", "1000000"), "open files")
    assert_bad_input(concbench("run", "--scenarios", "churn", "--slow-clients", "5"), "keep-alive")
