"""The echo scenario: the server returns every byte it receives, in order.

The client sends a message of `size` bytes, waits for the whole echo, then sends the
next (closed loop). Messages differ from each other so a stale or mixed-up echo fails.
"""
from __future__ import annotations

from .base import ClientWorkload, Exchange, Parameter, Scenario

# How many distinct messages the client cycles through; enough that replaying an
# earlier message, or another connection's message, is caught.
DISTINCT_MESSAGES = 64


class EchoSession:
    """Echo is stateless per byte: whatever arrives goes straight back."""
    __slots__ = ()
    closing = False

    def receive(self, data: bytes) -> bytes:
        return data


def message(index: int, size: int) -> bytes:
    """A deterministic message of exactly `size` bytes that differs for every index."""
    header = b"%08d:" % index
    body = bytes((index * 31 + i * 7) % 251 for i in range(min(size, 251)))
    stream = (header + body * (size // max(len(body), 1) + 1))
    return stream[:size]


def client_workload(params: dict) -> ClientWorkload:
    size = params["size"]
    exchanges = tuple(Exchange(m, m) for m in (message(i, size) for i in range(DISTINCT_MESSAGES)))
    return ClientWorkload(exchanges)


SCENARIO = Scenario(
    name="echo",
    summary="client sends SIZE bytes, waits for the exact echo, repeats (closed loop)",
    parameters=(Parameter("size", 64, "message size in bytes (64, 1024 and 16384 in --full)",
                          minimum=1, maximum=64 << 20),),
    client_workload=client_workload,
    session_factory=lambda params: EchoSession,
    levels=(("default", (1, 100, 1000)), ("quick", (1, 10, 100)), ("full", (1, 10, 100, 1000))),
)
