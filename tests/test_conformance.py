"""One conformance suite, parametrised over the registry: every runner must serve echo correctly.

The same verification the benchmark makes (the load generator) plus raw-socket edge cases.
"""
from __future__ import annotations

import socket
import struct

import pytest

from concbench.clients.loadgen import LoadPlan, run_load
from concbench.results.measurement import loadgen_report
from concbench.scenarios.echo import SCENARIO, message


def exchange(port: int, payload: bytes, pieces: int = 1, timeout: float = 10.0) -> bytes:
    """Send `payload` in `pieces` separate sends, read back exactly len(payload) bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        step = max(1, len(payload) // pieces)
        sent = 0
        received = bytearray()
        while sent < len(payload):
            sock.sendall(payload[sent:sent + step])
            sent += step
            sock.setblocking(False)           # read what has come back so far, without waiting
            try:
                while True:
                    chunk = sock.recv(1 << 20)
                    if not chunk:
                        break
                    received += chunk
            except BlockingIOError:
                pass
            sock.settimeout(timeout)
        while len(received) < len(payload):
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += chunk
        return bytes(received)


def load(port: int, connections: int, size: int = 64) -> dict:
    plan = LoadPlan("127.0.0.1", port, connections, warmup_s=0.05, duration_s=0.3, timeout_s=5.0)
    return loadgen_report(run_load(plan, SCENARIO.client_workload({"size": size})))


@pytest.mark.usefixtures("each_engine")
def test_small_messages_verified_by_the_load_generator(echo_server):
    report = load(echo_server.port, connections=4)
    assert report["status"] == "ok", report["first_error"]
    assert report["errors"] == 0
    assert report["requests"] > 0
    assert report["served_connections"] == 4


def test_large_message_of_one_mebibyte(echo_server):
    payload = message(7, 1 << 20)
    assert exchange(echo_server.port, payload) == payload


def test_message_split_across_many_segments(echo_server):
    payload = message(11, 4096)
    assert exchange(echo_server.port, payload, pieces=128) == payload


def test_client_disconnecting_mid_message_leaves_the_server_serving(echo_server):
    with socket.create_connection(("127.0.0.1", echo_server.port), timeout=5) as sock:
        sock.sendall(message(3, 1 << 20)[: 300_000])     # half a message, then go away abruptly
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
    assert echo_server.alive()
    payload = message(5, 1000)
    assert exchange(echo_server.port, payload) == payload


def test_many_connections_at_once(echo_server):
    # processes serves one connection per worker: give it as many connections as it has workers
    connections = 3 if "processes" in " ".join(echo_server.command) else 200
    report = load(echo_server.port, connections=connections)
    assert report["status"] == "ok", report["first_error"]
    assert report["served_connections"] == connections


@pytest.mark.usefixtures("each_engine")
def test_load_generator_checks_large_echoes(echo_server):
    report = load(echo_server.port, connections=2, size=16384)
    assert report["status"] == "ok", report["first_error"]
    assert report["requests"] > 0


def test_sigterm_stops_the_server_promptly(echo_server):
    import signal
    import subprocess
    echo_server.proc.send_signal(signal.SIGTERM)
    try:
        echo_server.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        raise AssertionError("server still running 5 s after SIGTERM") from None
    assert not echo_server.alive()
