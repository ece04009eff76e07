"""The backend scenario: each client request becomes one call to a backend service that answers after D ms.

It owns both wire formats (client <-> server, server <-> backend) and the server session that turns
one into the other. The client's reply is the backend's answer, a transform of the request that only
the backend computes on the wire, so every reply is checked byte for byte. No I/O here.
"""
from __future__ import annotations

import struct

from .base import ClientWorkload, Exchange, Parameter, Scenario
from .echo import DISTINCT_MESSAGES, message

# Server -> backend: b"Q", delay in ms (uint16), payload length (uint32), payload.
# Backend -> server: b"R", payload length (uint32), transform(payload).
REQUEST_HEADER = struct.Struct("!cHI")
REPLY_HEADER = struct.Struct("!cI")
MAX_DELAY_MS = 60_000
# The backend's answer: every byte XOR 0x5A (cheap, in C, and never equal to the request).
TRANSFORM = bytes(b ^ 0x5A for b in range(256))


class BackendProtocolError(ValueError):
    """The backend (or the server talking to it) broke the framing."""


def transform(payload: bytes) -> bytes:
    return payload.translate(TRANSFORM)


def encode_backend_request(delay_ms: int, payload: bytes) -> bytes:
    return REQUEST_HEADER.pack(b"Q", delay_ms, len(payload)) + payload


def parse_backend_request(buffer: bytes) -> tuple[int, bytes, int] | None:
    """(delay_ms, payload, bytes consumed) for the first whole request in buffer, None if incomplete."""
    if len(buffer) < REQUEST_HEADER.size:
        return None
    tag, delay_ms, length = REQUEST_HEADER.unpack_from(buffer)
    if tag != b"Q" or length > 64 << 20:
        raise BackendProtocolError(f"not a backend request: {bytes(buffer[:16])!r}")
    end = REQUEST_HEADER.size + length
    if len(buffer) < end:
        return None
    return delay_ms, bytes(buffer[REQUEST_HEADER.size:end]), end


def encode_backend_reply(payload: bytes) -> bytes:
    """What the backend answers to a request carrying `payload`."""
    return REPLY_HEADER.pack(b"R", len(payload)) + transform(payload)


class BackendSession:
    """One client connection: fixed-size requests in; each whole one queued as a backend call.

    A runner sends what take_backend_request() returns to its backend connection and feeds the
    backend's bytes to backend_received(), which returns the client's reply once the backend's reply
    is whole (b"" before). One call at a time per session; a request that arrives meanwhile waits."""
    __slots__ = ("size", "delay_ms", "inbox", "outgoing", "awaiting", "from_backend", "reply_size", "closing")

    def __init__(self, size: int, delay_ms: int):
        self.size = size
        self.delay_ms = delay_ms
        self.inbox = b""                 # client bytes not yet turned into a call
        self.outgoing = b""              # the backend request waiting to be sent
        self.awaiting = False            # a call is out (queued or sent), its reply not yet whole
        self.from_backend = b""
        self.reply_size = REPLY_HEADER.size + size
        self.closing = False

    def receive(self, data: bytes) -> bytes:
        self.inbox += data
        self._next_call()
        return b""                       # the client's reply comes from the backend

    def take_backend_request(self) -> bytes:
        outgoing, self.outgoing = self.outgoing, b""
        return outgoing

    def backend_received(self, data: bytes) -> bytes:
        buffer = self.from_backend + data if self.from_backend else data
        if len(buffer) < self.reply_size:
            self.from_backend = buffer
            return b""
        if len(buffer) > self.reply_size or not self.awaiting:
            raise BackendProtocolError("the backend sent bytes nobody asked for")
        tag, length = REPLY_HEADER.unpack_from(buffer)
        if tag != b"R" or length != self.size:
            raise BackendProtocolError(f"not a backend reply: {bytes(buffer[:16])!r}")
        self.from_backend = b""
        self.awaiting = False
        self._next_call()
        return bytes(buffer[REPLY_HEADER.size:])

    def _next_call(self):
        if not self.awaiting and len(self.inbox) >= self.size:
            request, self.inbox = self.inbox[:self.size], self.inbox[self.size:]
            self.outgoing = encode_backend_request(self.delay_ms, request)
            self.awaiting = True


def client_workload(params: dict) -> ClientWorkload:
    size = params["size"]
    requests = [message(i, size) for i in range(DISTINCT_MESSAGES)]
    return ClientWorkload(tuple(Exchange(request, transform(request)) for request in requests))


SCENARIO = Scenario(
    name="backend",
    summary="each request waits on a backend service (started by concbench on the load generator's cpus) "
            "that answers after DELAY_MS; the reply is the backend's answer, checked byte for byte",
    parameters=(Parameter("size", 64, "request and reply size in bytes", minimum=1, maximum=1 << 20),
                Parameter("delay_ms", 10, "how long the backend takes to answer each call, ms",
                          minimum=0, maximum=MAX_DELAY_MS)),
    client_workload=client_workload,
    session_factory=lambda params: (lambda: BackendSession(params["size"], params["delay_ms"])),
    needs_backend=True,
    # the pool size is the limit here: 10 connections fit every pool, 2000 exceed them
    levels=(("default", (10, 2000)), ("quick", (10,)), ("full", (1, 10, 100, 1000, 2000))),
    suite="backend-default",      # the bounded pools are its model, and processes (one worker each) is not
)
