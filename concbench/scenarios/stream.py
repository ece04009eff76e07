"""The stream scenario: on one request line the server sends a payload of `size` bytes, then closes.

It owns the wire format (REQUEST), the deterministic payload (chunks sliced from one pattern whose
content depends on the offset, never the whole payload at once) and the client-side StreamVerifier,
which checks every byte at its offset and tells a truncated, corrupted, shifted or overlong stream.
"""
from __future__ import annotations

import random
from typing import Iterator

from .base import ClientWorkload, Parameter, Scenario

REQUEST = b"STREAM\n"
# The pattern repeats with a prime period, so a stream shifted by any amount that is not a multiple of
# PERIOD (64 KiB and below: any) mismatches at once; a loss or repeat of whole periods changes the length.
PERIOD = 65521
MAX_CHUNK = 1 << 20
PATTERN = random.Random(6).randbytes(PERIOD)
# The pattern tiled to PERIOD + MAX_CHUNK bytes: any piece of up to MAX_CHUNK bytes at stream offset o
# is TILED[o % PERIOD : o % PERIOD + n], one slice, no arithmetic per byte.
TILED = (PATTERN * ((PERIOD + MAX_CHUNK) // PERIOD + 1))[:PERIOD + MAX_CHUNK]


def expected(offset: int, length: int) -> bytes:
    """The payload bytes at [offset, offset + length) (length <= MAX_CHUNK)."""
    start = offset % PERIOD
    return TILED[start:start + length]


def payload_chunks(size: int, chunk: int) -> Iterator[bytes]:
    """The payload as chunks of `chunk` bytes (the last one shorter). Each chunk is a new bytes object,
    as a server reading a file or rendering data would produce: a runner that queues chunks holds them all."""
    offset = 0
    while offset < size:
        length = min(chunk, size - offset)
        start = offset % PERIOD
        yield TILED[start:start + length]
        offset += length


class StreamSession:
    """Waits for REQUEST; then `chunks` is the payload's chunk iterator, which the runner writes with its
    own flow control and then closes. Any other request sets `closing` (protocol error)."""
    __slots__ = ("size", "chunk", "pending", "chunks", "closing")

    def __init__(self, size: int, chunk: int):
        self.size, self.chunk = size, chunk
        self.pending = b""
        self.chunks: Iterator[bytes] | None = None
        self.closing = False

    def receive(self, data: bytes) -> bytes:
        if self.chunks is not None or self.closing:
            self.closing = True          # nothing may follow the request
            return b""
        self.pending += data
        if len(self.pending) < len(REQUEST):
            if not REQUEST.startswith(self.pending):
                self.closing = True
            return b""
        if self.pending != REQUEST:
            self.closing = True
            return b""
        self.chunks = payload_chunks(self.size, self.chunk)
        return b""


class StreamVerifier:
    """Client side: feed() every received piece in order; `verified` counts bytes that matched at their
    offset; `problem` is the first fault (mismatch at an offset, or bytes beyond `size`), after which
    nothing more is counted. At the close, finish() adds truncation (closed before `size` bytes)."""
    __slots__ = ("size", "verified", "problem")

    def __init__(self, size: int):
        self.size = size
        self.verified = 0
        self.problem: str | None = None

    def feed(self, data) -> bool:
        """True while the stream is correct so far."""
        if self.problem is not None:
            return False
        view = memoryview(data)
        total = len(view)
        if self.verified + total > self.size:
            self.problem = f"overlong: more than {self.size} bytes (got {self.verified + total} so far)"
            return False
        done = 0
        while done < total:
            length = min(MAX_CHUNK, total - done)
            piece = view[done:done + length]
            if not TILED.startswith(piece, self.verified % PERIOD):
                at = next(i for i in range(length) if piece[i] != TILED[(self.verified + i) % PERIOD])
                self.problem = f"corrupted: wrong byte at offset {self.verified + at}"
                self.verified += at              # the bytes before the fault were right
                return False
            self.verified += length
            done += length
        return True

    @property
    def complete(self) -> bool:
        return self.problem is None and self.verified == self.size

    def finish(self) -> str | None:
        """At the connection's close: the first problem, truncation, or None for a complete stream."""
        if self.problem is None and self.verified < self.size:
            self.problem = f"truncated: closed after {self.verified} of {self.size} bytes"
        return self.problem


def client_workload(params: dict) -> ClientWorkload:
    raise ValueError("the stream scenario is driven by concbench backpressure, not by the closed-loop "
                     "load generator")


def make_session_factory(params: dict):
    size, chunk = params["size"], params["chunk"]

    def make_session() -> StreamSession:
        return StreamSession(size, chunk)
    make_session.streaming = True        # see scenarios.base.is_streaming
    return make_session


SCENARIO = Scenario(
    name="stream",
    summary="backpressure: on one request line the server streams SIZE bytes in CHUNK-byte writes, with "
            "its runner's flow control, then closes; fast and rate-limited readers verify every byte",
    parameters=(Parameter("size", 256 << 20, "payload bytes per connection (256 MiB)", minimum=1, maximum=1 << 40),
                Parameter("chunk", 64 << 10, "bytes per write (64 KiB)", minimum=1, maximum=MAX_CHUNK)),
    client_workload=client_workload,
    session_factory=make_session_factory,
    default=False,
    measured_by="concbench backpressure",
)
