"""The stream scenario: the sans-IO payload and verifier, every stream runner from the registry streaming a
small payload correctly, and the stream client catching a wrong server. Payloads are small; no speed asserted.
"""
from __future__ import annotations

import random

import pytest

from concbench import registry
from concbench.clients.stream_client import StreamPlan, fetch_stream, run
from concbench.scenarios.stream import MAX_CHUNK, PERIOD, REQUEST, SCENARIO, StreamSession, StreamVerifier, payload_chunks

from .brokenservers import BrokenServer
from .conftest import running_server

MIB = 1 << 20
STREAM_RUNNERS = [name for name in registry.RUNNERS if registry.applicable(name, "stream") is None]


def payload(size: int, chunk: int = 65536) -> bytes:
    return b"".join(payload_chunks(size, chunk))


# --- sans-IO: payload, session, verifier -------------------------------------------------------------

@pytest.mark.parametrize("size, chunk", [(1, 1), (1000, 7), (PERIOD * 3 + 5, 65536), (3 * MIB + 1, 65536),
                                         (2 * MIB, MAX_CHUNK)])
def test_chunks_add_up_to_exactly_size_in_chunk_pieces(size, chunk):
    pieces = list(payload_chunks(size, chunk))
    assert sum(map(len, pieces)) == size
    assert all(len(p) == chunk for p in pieces[:-1]) and 0 < len(pieces[-1]) <= chunk
    assert all(type(p) is bytes for p in pieces)      # fresh objects: a runner that queues them holds them


def test_the_payload_does_not_depend_on_the_chunk_size():
    assert payload(300_000, 65536) == payload(300_000, 4096) == payload(300_000, 1)[:300_000]


def test_a_shifted_payload_differs_at_the_start():
    data = payload(4 * PERIOD)
    for shift in (1, 2, 3, 100, 4096, 65536, PERIOD - 1):
        assert data[shift:shift + 64] != data[:64], shift


def test_session_starts_the_stream_only_on_the_whole_request_even_in_pieces():
    session = StreamSession(10, 4)
    assert session.receive(REQUEST[:3]) == b"" and session.chunks is None and not session.closing
    session.receive(REQUEST[3:])
    assert session.chunks is not None and not session.closing
    assert b"".join(session.chunks) == payload(10)


@pytest.mark.parametrize("request_bytes", [b"GET / HTTP/1.1\r\n\r\n", b"STREAM\nextra", b"X"])
def test_session_refuses_any_other_request(request_bytes):
    session = StreamSession(10, 4)
    session.receive(request_bytes)
    assert session.closing


def test_verifier_accepts_the_exact_stream_in_any_split():
    data = payload(2 * MIB + 12345)
    rng = random.Random(1)
    verifier, at = StreamVerifier(len(data)), 0
    while at < len(data):
        step = rng.choice((1, 7, 1000, 65536, 300_000, 1_500_000))
        assert verifier.feed(data[at:at + step])
        at += step
    assert verifier.finish() is None and verifier.complete and verifier.verified == len(data)


def feed_all(data: bytes, size: int) -> StreamVerifier:
    verifier = StreamVerifier(size)
    for at in range(0, len(data), 65536):
        if not verifier.feed(data[at:at + 65536]):
            break
    verifier.finish()
    return verifier


SIZE = MIB + 333


def corrupt(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


@pytest.mark.parametrize("name, wrong, problem", [
    ("truncated by one byte", lambda d: d[:-1], f"truncated: closed after {SIZE - 1} of {SIZE} bytes"),
    ("truncated at half", lambda d: d[:SIZE // 2], "truncated"),
    ("empty", lambda d: b"", f"truncated: closed after 0 of {SIZE} bytes"),
    ("one bit flipped", lambda d: corrupt(d, 700_001), "corrupted: wrong byte at offset 700001"),
    ("last byte flipped", lambda d: corrupt(d, SIZE - 1), f"corrupted: wrong byte at offset {SIZE - 1}"),
    ("one byte lost, padded", lambda d: d[:5000] + d[5001:] + b"x", "corrupted"),
    ("one byte repeated, cut", lambda d: (d[:5000] + d[4999:])[:SIZE], "corrupted"),
    ("shifted by a whole chunk", lambda d: d[65536:] + d[:65536], "corrupted: wrong byte at offset 0"),
    ("a byte too many", lambda d: d + b"\x00", "overlong"),
])
def test_verifier_catches_a_wrong_stream(name, wrong, problem):
    verifier = feed_all(wrong(payload(SIZE)), SIZE)
    assert not verifier.complete
    assert verifier.problem.startswith(problem), (name, verifier.problem)


def test_verifier_counts_nothing_after_the_first_fault():
    data = corrupt(payload(200_000), 100)
    verifier = StreamVerifier(200_000)
    assert not verifier.feed(data[:1000]) and verifier.verified == 100
    assert not verifier.feed(data[1000:]) and verifier.verified == 100


# --- every stream runner from the registry ---------------------------------------------------------------

def test_stream_is_not_in_the_default_run_suite_and_says_how_it_is_measured():
    assert not SCENARIO.default and SCENARIO.measured_by == "concbench backpressure"
    assert "asyncio-unbounded" in registry.default_stream_runners()
    assert "twisted-unbounded" in registry.default_stream_runners()
    for name in ("asyncio-unbounded", "twisted-unbounded"):
        runner = registry.RUNNERS[name]
        assert runner.variant_of and not runner.default and runner.only_scenarios == ("stream",)
        assert "UNBOUNDED" in runner.summary
    assert set(registry.default_runners()) & set(registry.default_stream_runners()) >= {
        "threads", "processes", "twisted", "tornado", "asyncio", "asyncio-streams", "gevent"}


@pytest.mark.parametrize("runner", STREAM_RUNNERS)
def test_runner_streams_the_payload_completely_and_keeps_serving(runner):
    size = MIB + 17                       # not a multiple of the chunk size: the short last chunk is written
    with running_server(runner, "stream", {"size": size}) as server:
        for _ in range(2):
            verifier = fetch_stream("127.0.0.1", server.port, size, timeout_s=20)
            assert verifier.complete, verifier.problem
        import socket
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as early:   # a reader that leaves
            early.sendall(REQUEST)
            assert early.recv(1000)
        verifier = fetch_stream("127.0.0.1", server.port, size, timeout_s=20)
        assert verifier.complete, verifier.problem
        assert server.alive()


@pytest.mark.parametrize("runner", ["asyncio", "threads", "twisted-unbounded"])
def test_stream_client_fast_and_slow_readers_verify_every_byte(runner):
    size = 2 * MIB
    with running_server(runner, "stream", {"size": size}) as server:
        report = run(StreamPlan("127.0.0.1", server.port, size, fast=1, slow=2, slow_rate=MIB, slow_rcvbuf=16384,
                                warmup_s=0.2, window_s=0.6))
    assert report["status"] == "ok" and report["errors"] == 0, report["first_error"]
    assert report["fast_bytes"] > 0 and report["fast_streams"] >= 1
    assert report["slow_bytes"] > 0 and report["slow_rate_min_b_s"] > 0


@pytest.mark.parametrize("wrong, kind", [(lambda d: d[:-10], "truncated"), (lambda d: corrupt(d, 5), "corrupted"),
                                         (lambda d: d + b"!", "overlong")])
def test_stream_client_counts_a_wrong_server_as_errors(wrong, kind):
    size = 300_000
    wrong_payload = wrong(payload(size))
    with BrokenServer(lambda data: wrong_payload, close_after_reply=True) as server:
        report = run(StreamPlan("127.0.0.1", server.port, size, fast=1, slow=0, slow_rate=MIB, slow_rcvbuf=16384,
                                warmup_s=0.05, window_s=0.2))
    assert report["status"] == "failed" and report["errors"] >= 1
    assert report["error_kinds"].get(kind, 0) >= 1, report["error_kinds"]
    assert report["fast_streams"] == 0
