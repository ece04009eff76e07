"""tools/epoll_echo_client.c, the C yardstick: closed loop, open loop (--rate) and churn (--churn) each verify every
echoed byte, report their window and the busy share of their core, and count a wrong server's replies as errors."""
from __future__ import annotations

import json
import subprocess

import pytest

from concbench.harness.server_process import ServerProcess
from concbench.studies.ceiling import build_c_client

from .brokenservers import BrokenServer, flip_last_byte


def c_client(port: int, *extra: str, connections: int = 4) -> dict:
    done = subprocess.run([str(build_c_client()), "127.0.0.1", str(port), str(connections), "64", "0.2", "0.5",
                           *extra], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def echo_server():
    server = ServerProcess("asyncio", "echo", {"size": 64}, None).start()
    yield server
    server.stop()


def test_closed_loop_counts_verified_echoes_in_its_window(echo_server):
    result = c_client(echo_server.port)
    assert result["errors"] == 0 and result["first_error"] == "" and result["requests"] > 0
    assert result["window_s"] >= 0.5 and 0 <= result["loadgen_core_busy_pct"] <= 100


def test_open_loop_reports_offered_achieved_and_both_latencies(echo_server):
    result = c_client(echo_server.port, "--rate", "2000")
    assert result["errors"] == 0 and result["offered_rate"] == 2000
    assert result["achieved_ratio"] == pytest.approx(result["requests"] / result["window_s"] / 2000, rel=1e-4)  # both printed to 6 places
    # corrected latency counts from the slot, uncorrected from the send, which is never before the slot
    assert 0 < result["latency_uncorrected_p50_s"] <= result["latency_uncorrected_p99_s"]
    assert result["latency_p50_s"] <= result["latency_p99_s"] <= result["latency_p99_9_s"] <= result["latency_max_s"]
    assert result["latency_p99_s"] >= result["latency_uncorrected_p99_s"]


def test_churn_counts_an_echo_and_the_servers_close_per_connection():
    server = ServerProcess("asyncio", "churn", {"size": 64}, None).start()
    try:
        result = c_client(server.port, "--churn")
    finally:
        server.stop()
    assert result["errors"] == 0 and result["requests"] > 0


@pytest.mark.parametrize("mode", [(), ("--rate", "1000"), ("--churn",)])
def test_a_wrong_byte_is_an_error_in_every_mode(mode):
    with BrokenServer(flip_last_byte, close_after_reply="--churn" in mode) as server:
        result = c_client(server.port, *mode)
    assert result["errors"] > 0 and result["first_error"] == "wrong bytes" and result["requests"] == 0


def test_bad_arguments_are_refused():
    done = subprocess.run([str(build_c_client()), "127.0.0.1", "1", "4", "64", "0", "1", "--churn", "--rate", "5"],
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 2 and "closed loop only" in done.stderr
