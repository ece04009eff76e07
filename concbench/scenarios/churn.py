"""The churn scenario: a new TCP connection per request (connect, one echo of SIZE bytes, the server closes).

The server closes first, so TIME_WAIT stays on the server side and the client does not run out of
ephemeral ports. The figure is connections per second, and latency includes the TCP handshake.
"""
from __future__ import annotations

from .base import ClientWorkload, Parameter, Scenario
from .echo import client_workload as echo_workload


class ChurnSession:
    """Echo until one message of `size` bytes has gone back, then ask the runner to close."""
    __slots__ = ("remaining", "closing")

    def __init__(self, size: int):
        self.remaining = size
        self.closing = False

    def receive(self, data: bytes) -> bytes:
        if self.closing:
            return b""
        data = data[:self.remaining]
        self.remaining -= len(data)
        self.closing = self.remaining == 0
        return data


def client_workload(params: dict) -> ClientWorkload:
    return ClientWorkload(echo_workload(params).exchanges, connection_per_request=True)


SCENARIO = Scenario(
    name="churn",
    summary="a new connection per request: connect, one echo of SIZE bytes, the server closes; "
            "reports connections/s and latency including the handshake",
    parameters=(Parameter("size", 64, "message size in bytes", minimum=1, maximum=1 << 20),),
    client_workload=client_workload,
    session_factory=lambda params: (lambda: ChurnSession(params["size"])),
    default=True,
    levels=(("default", (10,)), ("quick", (10,)), ("full", (1, 10, 100))),
)
