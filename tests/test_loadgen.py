"""The load generator verifies every reply: wrong, short, extra and missing replies are errors of their kind.

Servers here are deliberately broken (tests/brokenservers.py); none of these tests asserts a speed.
"""
from __future__ import annotations

import pytest

from concbench.clients.loadgen import LoadPlan, probe, run_load
from concbench.results.measurement import loadgen_report
from concbench.scenarios.echo import SCENARIO

from .brokenservers import BrokenServer, flip_last_byte

pytestmark = pytest.mark.usefixtures("each_engine")   # every test here, on both engines


def drive(port: int, connections: int = 3, size: int = 64, timeout_s: float = 0.5) -> dict:
    plan = LoadPlan("127.0.0.1", port, connections, warmup_s=0.05, duration_s=0.2, timeout_s=timeout_s)
    return loadgen_report(run_load(plan, SCENARIO.client_workload({"size": size})))


def test_a_correct_server_passes():
    with BrokenServer(lambda data: data) as server:
        report = drive(server.port)
    assert report["status"] == "ok", report["first_error"]
    assert report["errors"] == 0 and report["requests"] > 0
    assert report["latency_p50_s"] > 0 and report["latency_p99_s"] >= report["latency_p50_s"]


def test_corrupted_byte_is_a_mismatch():
    with BrokenServer(flip_last_byte) as server:
        report = drive(server.port)
    assert report["status"] == "failed"
    assert report["error_kinds"].get("mismatch", 0) >= 1
    assert "wrong bytes" in report["first_error"]


def test_extra_bytes_are_a_mismatch():
    with BrokenServer(lambda data: data + b"!") as server:
        report = drive(server.port)
    assert report["status"] == "failed"
    assert report["error_kinds"].get("mismatch", 0) >= 1


def test_short_reply_times_out():
    with BrokenServer(lambda data: data[:-1]) as server:
        report = drive(server.port, timeout_s=0.3)
    assert report["status"] == "failed"
    assert report["error_kinds"].get("timeout", 0) >= 1


def test_server_closing_mid_reply_is_an_error():
    with BrokenServer(lambda data: data[: len(data) // 2], close_after_reply=True) as server:
        report = drive(server.port)
    assert report["status"] == "failed"
    assert report["error_kinds"].get("closed", 0) + report["error_kinds"].get("reset", 0) >= 1


def test_silent_server_starves_every_connection():
    with BrokenServer(lambda data: None) as server:
        report = drive(server.port, connections=4, timeout_s=0.3)
    assert report["status"] == "failed"
    assert report["starved_connections"] == 4
    assert report["served_connections"] == 0
    assert report["requests"] == 0


def test_replayed_message_is_caught():
    # a server that keeps answering with the first message it ever saw (a stale echo)
    first: list[bytes] = []

    def stale(data):
        if not first:
            first.append(data)
        return first[0]

    with BrokenServer(stale) as server:
        report = drive(server.port, connections=1)
    assert report["status"] == "failed"
    assert report["error_kinds"].get("mismatch", 0) >= 1


@pytest.mark.parametrize("size", [1, 64, 100_000])
def test_reply_arriving_in_pieces_is_reassembled(size):
    with BrokenServer(lambda data: data) as server:   # the kernel splits large replies by itself
        report = drive(server.port, connections=2, size=size, timeout_s=2.0)
    assert report["status"] == "ok", report["first_error"]


def test_probe_names_a_refused_target():
    with BrokenServer(lambda data: data) as server:
        port = server.port
    assert probe("127.0.0.1", port) is not None
    assert "refused" in probe("127.0.0.1", port)


def drive_http(port: int, connections: int = 2, timeout_s: float = 0.5) -> dict:
    from concbench.scenarios.http import SCENARIO as HTTP
    plan = LoadPlan("127.0.0.1", port, connections, warmup_s=0.05, duration_s=0.3, timeout_s=timeout_s)
    return loadgen_report(run_load(plan, HTTP.client_workload({})))


def http_reply(status=b"200 OK", body=b"Hello, World!", extra=b""):
    from email.utils import formatdate
    return (b"HTTP/1.1 " + status + b"\r\nServer: t\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nDate: " + formatdate(usegmt=True).encode() + b"\r\n" + extra
            + b"\r\n" + body)


def test_http_mode_accepts_a_correct_server():
    with BrokenServer(lambda data: http_reply()) as server:
        report = drive_http(server.port)
    assert report["status"] == "ok", report["first_error"]


def test_http_wrong_body_or_status_is_an_error():
    with BrokenServer(lambda data: http_reply(body=b"Hello, World?")) as server:
        report = drive_http(server.port)
    assert report["status"] == "failed" and "body" in report["first_error"]
    with BrokenServer(lambda data: http_reply(status=b"500 Internal Server Error")) as server:
        report = drive_http(server.port)
    assert report["status"] == "failed" and "status" in report["first_error"]


def test_http_reset_connection_is_counted_and_reconnected():
    """The server resets the first connection it accepts after its 5th reply and never closes another one: the
    reset is counted, the connection is replaced, and the run goes on (replies on the replacement connection).
    Nothing here depends on speed: one reset only, far below the reconnect budget, and the server counts for us."""
    import socket as s
    import threading
    lock = threading.Lock()
    accepted = []                  # replies sent on each accepted connection, in accept order

    class ClosingServer(BrokenServer):
        def _serve(self, conn):
            with lock:
                index = len(accepted)
                accepted.append(0)
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    conn.sendall(http_reply())
                    with lock:
                        accepted[index] += 1
                    if index == 0 and accepted[index] == 5:      # the first connection only, once
                        conn.setsockopt(s.SOL_SOCKET, s.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        conn.close()
                        return
            except OSError:
                return

    with ClosingServer(lambda data: http_reply()) as server:
        report = drive_http(server.port, connections=2, timeout_s=2.0)
    assert report["errors"] >= 1                                   # counted ...
    assert set(report["error_kinds"]) <= {"reset", "closed"}, report["error_kinds"]
    assert report["reconnects"] >= 1                               # ... and reconnected
    assert len(accepted) >= 3                                      # 2 connections + the replacement
    assert sum(accepted[2:]) >= 1                                  # the run went on past the first close
    assert report["requests"] > 0

