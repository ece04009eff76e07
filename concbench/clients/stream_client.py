"""The stream load generator: F fast and S rate-limited readers of the stream scenario, every byte verified.

It owns the client side of `concbench backpressure`: connections, read pacing, the warm-up and window
timeline and the counts per window. It runs in its own process (`stream_main`, started as `python -m
concbench.cli.children stream-client`), pinned to the load generator's cpu; the server's memory and CPU are sampled
by concbench.studies.backpressure.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import time
from dataclasses import dataclass

from concbench.scenarios.stream import REQUEST, StreamVerifier

from concbench import cpu
from concbench.fairness import configure_connection, pin_to_cpus
from concbench.harness import protocol

MB = 1_000_000                  # MB/s figures are decimal megabytes
MAX_STREAMS_PER_READER = 100_000  # a bound on reconnections, besides the time bound
CONNECT_TIMEOUT_S = 5.0
RETRY_PAUSE_S = 0.05            # after a failed connect, before the next attempt
BURST_S = 0.1                   # a slow reader's credit: it never reads more than rate x (t + 0.1 s) in t seconds


@dataclass(frozen=True)
class StreamPlan:
    host: str
    port: int
    size: int                   # payload bytes per stream (the server's `size` parameter)
    fast: int                   # readers that read as fast as they can
    slow: int                   # readers paced to slow_rate
    slow_rate: float            # bytes/s per slow reader
    slow_rcvbuf: int            # SO_RCVBUF of a slow reader's socket (small: the kernel holds little for it)
    warmup_s: float
    window_s: float


class Slot:
    """One reader position: it reconnects for a new stream after each complete one, until the end."""
    __slots__ = ("kind", "rate", "verified", "streams", "connections")

    def __init__(self, kind: str, rate: float | None):
        self.kind, self.rate = kind, rate
        self.verified = 0        # verified bytes over all its streams
        self.streams = 0         # complete, verified streams
        self.connections = 0


class Errors:
    """Every fault is counted by kind, never dropped; the first one is kept in words."""

    def __init__(self):
        self.kinds: dict[str, int] = {}
        self.first: str = ""

    def add(self, kind: str, text: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self.first = self.first or text

    @property
    def count(self) -> int:
        return sum(self.kinds.values())


class Reader(asyncio.Protocol):
    """One connection: send the request, verify every byte, pace reads if `rate` is set."""

    def __init__(self, slot: Slot, size: int, errors: Errors, done: asyncio.Future):
        self.slot, self.errors, self.done = slot, errors, done
        self.verifier = StreamVerifier(size)
        self.stopping = False
        self.transport = None
        self.loop = asyncio.get_running_loop()
        self.next_read = 0.0     # pacing: when the slow reader may read again
        self.resume_handle = None

    def connection_made(self, transport):
        self.transport = transport
        self.next_read = self.loop.time()
        transport.write(REQUEST)

    def data_received(self, data):
        before = self.verifier.verified
        ok = self.verifier.feed(data)
        self.slot.verified += self.verifier.verified - before
        if not ok:
            kind = self.verifier.problem.split(":", 1)[0]
            self.errors.add(kind, f"{self.slot.kind} reader: {self.verifier.problem}")
            self.stop()
            return
        rate = self.slot.rate
        if rate:                 # a token bucket: at most BURST_S of credit, so a late stream cannot catch up
            now = self.loop.time()
            self.next_read = max(self.next_read, now - BURST_S) + len(data) / rate
            if self.next_read > now:
                self.transport.pause_reading()
                self.resume_handle = self.loop.call_later(self.next_read - now, self.resume)

    def resume(self):
        self.resume_handle = None
        if not self.stopping and not self.transport.is_closing():
            self.transport.resume_reading()

    def eof_received(self):
        return None              # close our side too; connection_lost judges the stream

    def connection_lost(self, exc):
        if self.resume_handle is not None:
            self.resume_handle.cancel()
        if not self.stopping:
            if exc is not None and self.verifier.problem is None:
                self.errors.add("reset", f"{self.slot.kind} reader: connection lost after "
                                         f"{self.verifier.verified} of {self.verifier.size} bytes: {exc}")
            else:
                problem = self.verifier.finish()
                if problem:
                    self.errors.add(problem.split(":", 1)[0], f"{self.slot.kind} reader: {problem}")
                else:
                    self.slot.streams += 1
        if not self.done.done():
            self.done.set_result(None)

    def stop(self):
        """Close from our side (window over, or a fault already counted): not an error by itself."""
        self.stopping = True
        if self.transport is not None:
            self.transport.abort()


async def open_socket(plan: StreamPlan, slot: Slot) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in plan.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    if slot.rate:                # before connect, so the advertised window is small from the start
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, plan.slow_rcvbuf)
    configure_connection(sock)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (plan.host, plan.port)),
                               CONNECT_TIMEOUT_S)
    except BaseException:
        sock.close()
        raise
    return sock


async def run_slot(plan: StreamPlan, slot: Slot, errors: Errors, readers: set, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set() and slot.connections < MAX_STREAMS_PER_READER:
        slot.connections += 1
        try:
            sock = await open_socket(plan, slot)
        except (OSError, asyncio.TimeoutError) as exc:
            if not stop.is_set():
                errors.add("connect", f"{slot.kind} reader: connect failed: {exc or 'timeout'}")
                await asyncio.sleep(RETRY_PAUSE_S)
            continue
        done = loop.create_future()
        _, reader = await loop.create_connection(lambda: Reader(slot, plan.size, errors, done), sock=sock)
        readers.add(reader)
        try:
            await done
        finally:
            readers.discard(reader)


def snapshot(slots) -> list[int]:
    return [slot.verified for slot in slots]


async def run_stream_load(plan: StreamPlan, emit=lambda name: None) -> dict:
    """Warm-up, window, close everything; the report of the window (bytes verified in it, rates, errors)."""
    slots = [Slot("slow", plan.slow_rate) for _ in range(plan.slow)] + [Slot("fast", None) for _ in range(plan.fast)]
    errors, readers, stop = Errors(), set(), asyncio.Event()
    tasks = [asyncio.create_task(run_slot(plan, slot, errors, readers, stop)) for slot in slots]
    cores = tuple(sorted(os.sched_getaffinity(0)))
    await asyncio.sleep(plan.warmup_s)
    emit("window_start")
    at_start, cpu0, cores0, t0 = snapshot(slots), time.process_time(), cpu.read_cores(), time.monotonic()
    await asyncio.sleep(plan.window_s)
    at_end, cpu1, cores1, t1 = snapshot(slots), time.process_time(), cpu.read_cores(), time.monotonic()
    emit("window_end")
    stop.set()
    for reader in list(readers):
        reader.stop()
    await asyncio.wait(tasks, timeout=CONNECT_TIMEOUT_S + 1.0)
    for task in tasks:
        task.cancel()
    window_s = t1 - t0
    in_window = [end - start for start, end in zip(at_start, at_end)]
    fast = [b for b, s in zip(in_window, slots) if s.kind == "fast"]
    slow = [b for b, s in zip(in_window, slots) if s.kind == "slow"]
    # A reader that got no byte at all was starved by the server (a measured outcome, reported apart:
    # it is not a verification fault). Its 0 bytes are in the figures.
    starved = [s for s, total in zip(slots, at_end) if total == 0]
    report = {
        "status": "ok", "window_s": window_s, "warmup_s": plan.warmup_s,
        "stream_size": plan.size, "fast_readers": plan.fast, "slow_readers": plan.slow,
        "slow_rate_target_b_s": plan.slow_rate, "slow_rcvbuf": plan.slow_rcvbuf,
        "fast_bytes": sum(fast), "fast_mb_s": sum(fast) / window_s / MB,
        "fast_reader_min_mb_s": min(fast) / window_s / MB if fast else 0.0,
        "fast_streams": sum(s.streams for s in slots if s.kind == "fast"),
        "slow_bytes": sum(slow),
        "slow_rate_median_b_s": statistics.median(slow) / window_s if slow else 0.0,
        "slow_rate_min_b_s": min(slow) / window_s if slow else 0.0,
        "slow_rate_max_b_s": max(slow) / window_s if slow else 0.0,
        "slow_streams": sum(s.streams for s in slots if s.kind == "slow"),
        "connections_opened": sum(s.connections for s in slots),
        "starved_connections": len(starved),
        "starved_fast": sum(s.kind == "fast" for s in starved),
        "errors": errors.count, "error_kinds": dict(errors.kinds), "first_error": errors.first,
        "loadgen_cpu_s": cpu1 - cpu0, "loadgen_cpu_pct": 100.0 * (cpu1 - cpu0) / window_s,
        "loadgen_cores": ",".join(map(str, cores)),
        "loadgen_core_busy_pct": cpu.busy_pct(cores0, cores1, cores),
    }
    if errors.count:
        report["status"] = "failed"
    return report


def event_loop_factory():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(plan: StreamPlan, emit=lambda name: None) -> dict:
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(run_stream_load(plan, emit))


def fetch_stream(host: str, port: int, size: int, timeout_s: float = 30.0, read_size: int = 65536) -> StreamVerifier:
    """One blocking stream read to the close, every byte verified (tests and `verify`); finish() was called."""
    verifier = StreamVerifier(size)
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(REQUEST)
        while True:
            data = sock.recv(read_size)
            if not data or not verifier.feed(data):
                break
    verifier.finish()
    return verifier


def stream_main(plan: StreamPlan, cpus: tuple[int, ...] | None, events: bool) -> int:
    """The stream client process (`concbench.cli.children stream-client`): the report as JSON (with events: protocol
    lines ready, window_start, window_end, then the result); exit 0 if it passed."""
    if cpus:
        pin_to_cpus(cpus)

    def emit(name):
        if events:
            protocol.emit(name)

    emit(protocol.READY)
    report = run(plan, emit)
    if events:
        protocol.emit(protocol.RESULT, result=report)
    else:
        print(json.dumps(report), flush=True)
    return 0 if report["status"] == "ok" else 1
