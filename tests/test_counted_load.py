"""The counted client (concbench.clients.counted_load): exactly the requests asked for, every reply verified, errors counted;
against real `concbench serve` servers and a deliberately wrong one. Nothing is timed."""
from __future__ import annotations

import socket
import threading

import pytest

from concbench import registry
from concbench.clients.counted_load import CountedClient, split
from tests.conftest import running_server


@pytest.mark.parametrize("requests, connections", [(10, 3), (2, 5), (1000, 10), (7, 1)])
def test_split_is_exact_and_even(requests, connections):
    parts = split(requests, connections)
    assert sum(parts) == requests and len(parts) == connections
    assert max(parts) - min(parts) <= 1


@pytest.mark.parametrize("scenario, connections", [("echo", 1), ("echo", 4), ("http", 3), ("churn", 2)])
def test_exactly_the_requests_asked_for_are_verified(scenario, connections):
    params = registry.SCENARIOS[scenario].parse_params({})
    workload = registry.SCENARIOS[scenario].client_workload(params)
    with running_server("asyncio", scenario) as server:
        client = CountedClient("127.0.0.1", server.port, workload, connections, timeout_s=10).open()
        try:
            first, second = client.run(37), client.run(5)
        finally:
            client.close()
    assert (first.requests, first.planned, first.error_count) == (37, 37, 0) and first.complete
    assert (second.requests, second.error_count) == (5, 0)
    assert first.connections_opened == (37 if scenario == "churn" else 0)


class WrongEcho:
    """An echo server that answers every third request with the wrong bytes."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        conn, _ = self.listener.accept()
        with conn:
            for count in range(1, 1000):
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data if count % 3 else data[::-1])


def test_a_wrong_reply_is_counted_and_the_run_is_incomplete():
    workload = registry.SCENARIOS["echo"].client_workload({"size": 64})
    server = WrongEcho()
    client = CountedClient("127.0.0.1", server.port, workload, 1, timeout_s=10).open()
    try:
        outcome = client.run(10)
    finally:
        client.close()
        server.listener.close()
    assert outcome.requests == 2 and outcome.errors == {"mismatch": 1}
    assert not outcome.complete and outcome.first_error.startswith("mismatch")


def test_rounds_settle_and_hold_between_every_batch():
    calls = []
    workload = registry.SCENARIOS["echo"].client_workload({"size": 64})
    with running_server("asyncio", "echo") as server:
        client = CountedClient("127.0.0.1", server.port, workload, 3, timeout_s=10,
                               settle=lambda: calls.append("settle"), hold=lambda: calls.append("hold"),
                               release=lambda: calls.append("release")).open()
        try:
            outcome = client.run(7)                 # rounds of 3: rounded up to 9, said in `planned`
        finally:
            client.close()
    assert (outcome.planned, outcome.requests, outcome.error_count) == (9, 9, 0)
    assert calls == ["hold", "release", "settle"] * 3
