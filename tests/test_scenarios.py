"""Scenario logic without I/O: the echo session and the client workload, tested in memory."""
from __future__ import annotations

import pytest

from concbench.scenarios.echo import DISTINCT_MESSAGES, SCENARIO, EchoSession, message


def test_echo_session_returns_exactly_what_it_receives():
    session = EchoSession()
    for chunk in (b"a", b"", b"\x00" * 1000, bytes(range(256))):
        assert session.receive(chunk) == chunk


@pytest.mark.parametrize("size", [1, 8, 9, 64, 1024, 16384, 1 << 20])
def test_messages_have_the_requested_size(size):
    assert len(message(0, size)) == size


def test_workload_messages_differ_so_a_stale_echo_is_caught():
    workload = SCENARIO.client_workload({"size": 64})
    requests = [e.request for e in workload.exchanges]
    assert len(requests) == DISTINCT_MESSAGES == len(set(requests))
    assert all(e.expected_reply == e.request for e in workload.exchanges)


def test_parameters_are_parsed_and_checked():
    assert SCENARIO.parse_params({}) == {"size": 64}
    assert SCENARIO.parse_params({"size": "1024"}) == {"size": 1024}
    with pytest.raises(ValueError, match="size"):
        SCENARIO.parse_params({"size": "big"})
    with pytest.raises(ValueError, match="between"):
        SCENARIO.parse_params({"size": 0})
    with pytest.raises(ValueError, match="no parameter"):
        SCENARIO.parse_params({"colour": 1})
