"""Every runner serves the http scenario correctly and survives bad requests (a test per runner)."""
from __future__ import annotations

import errno
import os
import random
import socket

import pytest

from concbench import registry
from concbench.clients.loadgen import LoadPlan, run_load
from concbench.results.measurement import loadgen_report
from concbench.studies.verify import read_framed
from concbench.scenarios.http import MAX_HEADER_BYTES, REQUEST, SCENARIO, ResponseCheck, rejection_ok

from .conftest import running_server

HTTP_RUNNERS = [name for name in registry.RUNNERS if registry.applicable(name, "http") is None]


@pytest.fixture(params=HTTP_RUNNERS)
def http_server(request):
    with running_server(request.param, "http") as server:
        yield server


def read_response(sock) -> bytes:
    return read_framed(sock, ResponseCheck().frame)


def assert_correct_request_works(port) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(REQUEST)
        reply = read_response(sock)
    assert ResponseCheck().problem(reply) is None, reply[:200]


def send_and_close(port, payload: bytes, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            return b"".join(iter(lambda: sock.recv(65536), b"")) if read else b""
        except OSError as exc:                      # the server closed first: reset, or not connected
            if exc.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
                raise
            return b""


@pytest.mark.usefixtures("each_engine")
def test_plaintext_under_load_every_response_checked(http_server):
    # a 1 s window and 10 s per reply: far from what a loaded machine needs to show one verified reply
    plan = LoadPlan("127.0.0.1", http_server.port, 3, warmup_s=0.05, duration_s=1.0, timeout_s=10.0)
    report = loadgen_report(run_load(plan, SCENARIO.client_workload({})))
    assert report["status"] == "ok", report["first_error"]
    assert report["requests"] > 0


def rejected(runner: str, reply: bytes, status: bytes) -> bool:
    """Exactly `status` from the shared session; any 4xx or a close from a framework's own stack."""
    return rejection_ok(reply, status, registry.RUNNERS[runner].own_http_stack)


def test_another_path_is_404(http_server):
    with socket.create_connection(("127.0.0.1", http_server.port), timeout=10) as sock:
        sock.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 404")
    assert_correct_request_works(http_server.port)


def test_malformed_request_line(http_server):
    reply = send_and_close(http_server.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert rejected(http_server.runner, reply, b"400"), reply[:100]
    assert_correct_request_works(http_server.port)


def test_oversized_header(http_server):
    big = b"GET /plaintext HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 100) + b"\r\n\r\n"
    reply = send_and_close(http_server.port, big)
    assert rejected(http_server.runner, reply, b"431"), reply[:100]
    assert_correct_request_works(http_server.port)


def test_half_a_request_then_close(http_server):
    send_and_close(http_server.port, REQUEST[:25], read=False)
    assert_correct_request_works(http_server.port)
    assert http_server.alive()


def test_random_bytes(http_server):
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    for _ in range(5):
        send_and_close(http_server.port, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))))
    assert_correct_request_works(http_server.port)
    assert http_server.alive()
