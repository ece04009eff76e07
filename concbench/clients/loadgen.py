"""The load generator on uvloop (closed and open loop): N connections, every reply verified byte for byte; and
run_load, the one place that chooses the engine for a run (native C, this one, or concbench.clients.churn).

It owns connecting, pacing phases (warm-up, measuring window, drain), verification, error
counting and latency recording. It knows nothing of runners, servers or result files.
The per-reply path (Connection.data_received) is the hot path: keep work out of it.
"""
from __future__ import annotations

import asyncio
import errno
import heapq
import os
import random
import socket
import time
from array import array

from concbench.scenarios.base import ClientWorkload

from concbench import cpu
from concbench.clients.churn import ChurnGenerator
from concbench.clients.native_engine import resolve, run_native, supports
from concbench.clients.plan import LoadOutcome, LoadPlan
from concbench.fairness import configure_connection

perf_counter_ns = time.perf_counter_ns


class Connection(asyncio.Protocol):
    """One closed-loop client connection: send, wait for the exact reply, record, send again."""

    __slots__ = ("gen", "ring", "ring_len", "index", "transport", "expected", "received", "sent_at",
                 "completed", "done", "record", "sending")

    def __init__(self, gen: "LoadGenerator", offset: int):
        self.gen = gen
        self.ring = gen.ring                 # ((request, expected_reply), ...)
        self.ring_len = len(self.ring)
        self.index = offset % self.ring_len
        self.record = gen.record
        self.transport = None
        self.expected = b""
        self.received = 0                    # bytes of the current reply verified so far
        self.sent_at = 0                     # perf_counter_ns of the request in flight; 0 = none
        self.completed = False               # has had at least one verified reply
        self.done = False
        self.sending = False                 # keep the loop going; the generator flips it for all

    def connection_made(self, transport):
        self.transport = transport
        configure_connection(transport.get_extra_info("socket"))

    def send_next(self):
        index = self.index + 1
        if index == self.ring_len:
            index = 0
        self.index = index
        request, self.expected = self.ring[index]
        self.sent_at = perf_counter_ns()
        self.transport.write(request)

    def data_received(self, data):
        # Hot path: a whole, correct reply in one piece costs one comparison; send_next is inlined.
        now = perf_counter_ns()
        if self.received or data != self.expected:
            if not self._verify_piece(data):
                return
        self.record(now - self.sent_at)
        if self.sending:
            index = self.index + 1
            if index == self.ring_len:
                index = 0
            self.index = index
            request, self.expected = self.ring[index]
            self.sent_at = perf_counter_ns()
            self.transport.write(request)
        else:
            self.went_idle()

    def went_idle(self):
        """Not sending any more (ramp-up or drain): this connection has been served, nothing in flight."""
        self.sent_at = 0
        self.completed = True
        self.gen.connection_idle(self)

    def _verify_piece(self, data) -> bool:
        """Slow path: check a piece against the expected bytes at its offset; True once the reply is whole."""
        expected = self.expected
        offset = self.received
        end = offset + len(data)
        if end > len(expected) or memoryview(expected)[offset:end] != data:
            got = "more bytes than expected" if end > len(expected) else f"wrong bytes at offset {offset}"
            self.fail("mismatch", f"reply of {len(expected)} bytes: {got} (piece starts {bytes(data[:16])!r})")
            return False
        if end < len(expected):
            self.received = end
            return False
        self.received = 0
        return True

    def fail(self, kind: str, detail: str):
        if self.done:
            return
        self.done = True
        self.sent_at = 0
        self.gen.count_error(kind, detail)
        if self.transport is not None:
            self.transport.abort()
        self.gen.connection_failed(self, kind)
        self.gen.connection_idle(self)

    def eof_received(self):
        if not self.done:
            if self.sent_at:
                self.fail("closed", "server closed the connection before the whole reply")
            else:
                self.fail("closed", "server closed an idle connection")
        return False

    def connection_lost(self, exc):
        if self.done:
            return
        if exc is not None:
            self.fail("reset", f"connection lost: {exc}")
        else:
            self.fail("closed", "connection closed")

    def close(self):
        """Orderly close at the end of the run (not an error)."""
        self.done = True
        if self.transport is not None:
            self.transport.close()


class PacedConnection(Connection):
    """Open loop: requests leave on a timetable, not when replies come back (wrk2's model).

    Latency is measured from the intended send time whenever the delay was the server's doing
    (the previous reply had not come back by then): coordinated omission corrected. A delay caused
    only by our own timer's granularity is not charged to the server; it is recorded as lateness.
    """

    __slots__ = ("due", "intended_at", "record_uncorrected", "next_gap", "parked")

    def __init__(self, gen: "LoadGenerator", offset: int):
        super().__init__(gen, offset)
        self.record_uncorrected = gen.record_uncorrected
        self.next_gap = gen.next_gap
        self.parked = gen.parked
        self.due = 0                          # this connection's place in the timetable (ns)
        self.intended_at = 0                  # where this request's latency is measured from

    def send_next(self):                      # ramp-up and closed-loop style sends
        super().send_next()
        self.intended_at = self.sent_at

    def send_due(self, intended_at: int):
        Connection.send_next(self)
        self.intended_at = intended_at

    def data_received(self, data):
        now = perf_counter_ns()
        if self.received or data != self.expected:
            if not self._verify_piece(data):
                return
        self.record(now - self.intended_at)
        self.record_uncorrected(now - self.sent_at)
        parked = self.parked
        if parked and parked[0][0] <= now:
            self.gen.release_due(now)
        if self.sending:
            self.due += self.next_gap()
            if self.due <= now:               # the server made us miss our slot: count from the slot
                self.send_due(self.due)
            else:
                self.sent_at = 0
                heapq.heappush(parked, (self.due, id(self), self))
        else:
            self.went_idle()


class FramedReplies:
    """Mixin for replies that are framed and judged by the scenario's response check (HTTP) rather
    than compared with fixed bytes: the hot path stays the same, only the slow path differs."""
    __slots__ = ()

    def _verify_piece(self, data) -> bool:
        pending = self.pending + data if self.pending else data
        size = self.check.frame(pending)
        if size == 0:
            self.pending = pending
            return False
        self.pending = b""
        if size < 0:
            self.fail("mismatch", f"reply cannot be framed (starts {bytes(pending[:40])!r})")
            return False
        if size != len(pending):
            self.fail("mismatch", f"{len(pending) - size} bytes after the reply, which nobody asked for")
            return False
        problem = self.check.problem(bytes(pending))
        if problem:
            self.fail("mismatch", problem)
            return False
        return True


class FramedConnection(FramedReplies, Connection):
    __slots__ = ("check", "pending")

    def __init__(self, gen, offset):
        super().__init__(gen, offset)
        self.check, self.pending = gen.response_check, b""


class FramedPacedConnection(FramedReplies, PacedConnection):
    __slots__ = ("check", "pending")

    def __init__(self, gen, offset):
        super().__init__(gen, offset)
        self.check, self.pending = gen.response_check, b""


class LoadGenerator:
    """Runs a LoadPlan against one target; `on_event(name)` is told 'connected', 'window_start', 'window_end'."""

    def __init__(self, plan: LoadPlan, workload: ClientWorkload, on_event=None):
        self.plan = plan
        self.ring = tuple((e.request, e.expected_reply) for e in workload.exchanges)
        self.response_check = workload.response_check() if workload.response_check else None
        self.on_event = on_event or (lambda name: None)
        self.outcome = LoadOutcome(plan)
        self.latencies = array("q")
        self.record = self.latencies.append      # hot path: a bound method, no lookups
        self.latencies_uncorrected = array("q")
        self.record_uncorrected = self.latencies_uncorrected.append
        self.lateness = array("q")
        self.parked: list = []                   # open loop: heap of (due_ns, id, connection)
        self.max_reconnects = 10 * plan.connections
        self._reconnecting: set = set()
        if plan.open_loop:
            interval_ns = plan.connections * 1e9 / plan.rate     # per connection
            self.interval_ns = interval_ns
            if plan.arrival == "poisson":
                expovariate = random.Random(0x5EED).expovariate
                self.next_gap = lambda: int(expovariate(1.0 / interval_ns))
            else:
                self.next_gap = lambda: int(interval_ns)
        self.sending = False
        self.connections: list[Connection] = []
        self._all_idle: asyncio.Future | None = None

    # --- called by connections -------------------------------------------------------
    def count_error(self, kind: str, detail: str):
        self.outcome.errors[kind] += 1
        if not self.outcome.first_error:
            self.outcome.first_error = f"{kind}: {detail}"

    def connection_failed(self, conn: Connection, kind: str):
        """A connection reset or closed by the server under load is counted (above) and replaced,
        so one bad connection does not end the run; a timed-out one is not (that is starvation)."""
        if kind in ("reset", "closed") and self.sending and self.outcome.reconnects < self.max_reconnects:
            self.outcome.reconnects += 1
            self._reconnecting.add(asyncio.ensure_future(self._replace(conn)))

    async def _replace(self, old: Connection):
        loop = asyncio.get_running_loop()
        conn = await self._connect_one(loop, old.index, asyncio.Semaphore(1))
        if conn is None or not self.sending:
            if conn is not None:
                conn.close()
            return
        conn.sending = True
        self.connections.append(conn)
        if self.plan.open_loop:
            conn.due = perf_counter_ns()
            conn.send_due(conn.due)
        else:
            conn.send_next()

    def connection_idle(self, conn: Connection):
        if not self.sending and self._all_idle is not None and not self._all_idle.done():
            if all(c.sent_at == 0 for c in self.connections):
                self._all_idle.set_result(None)

    # --- phases ----------------------------------------------------------------------
    async def _connect_one(self, loop, offset: int, limit: asyncio.Semaphore):
        plan = self.plan
        if self.response_check is not None:
            protocol = FramedPacedConnection if plan.open_loop else FramedConnection
        else:
            protocol = PacedConnection if plan.open_loop else Connection
        async with limit:
            try:
                _, conn = await asyncio.wait_for(
                    loop.create_connection(lambda: protocol(self, offset), plan.host, plan.port),
                    plan.connect_timeout_s)
            except (OSError, asyncio.TimeoutError) as exc:
                detail = "timed out" if isinstance(exc, asyncio.TimeoutError) else (exc.strerror or str(exc))
                self.count_error("connect", f"{plan.host}:{plan.port}: {detail}")
                return None
            return conn

    async def _watch_timeouts(self):
        limit_ns = int(self.plan.timeout_s * 1e9)
        while True:
            await asyncio.sleep(min(0.1, self.plan.timeout_s / 4))
            now = perf_counter_ns()
            for conn in self.connections:
                if conn.sent_at and now - conn.sent_at > limit_ns:
                    conn.fail("timeout", f"no complete reply within {self.plan.timeout_s:g} s")

    def release_due(self, now: int):
        """Send every parked request whose slot has come; the connection was idle, so a late
        send here is our timer's lateness (recorded), not the server's."""
        parked = self.parked
        while parked and parked[0][0] <= now:
            due, _, conn = heapq.heappop(parked)
            if conn.sending and not conn.done:
                conn.send_due(perf_counter_ns())
                self.lateness.append(conn.sent_at - due)

    async def _ticker(self):
        """Open loop: wake at the next slot (the event loop's timers have millisecond resolution)."""
        while self.sending:
            now = perf_counter_ns()
            self.release_due(now)
            delay = (self.parked[0][0] - now) / 1e9 if self.parked else 0.001
            await asyncio.sleep(max(delay, 0.001))

    def schedule_backlog(self, now: int) -> float:
        """Open loop: how many timetable slots have passed without their request being sent (estimate)."""
        behind = 0.0
        for conn in self.connections:
            if conn.sent_at and not conn.done and now > conn.due:   # in flight past its slot
                behind += max(0.0, (now - conn.due) / self.interval_ns - 1.0)
        return behind

    def start_timetable(self):
        """Open loop: give every connection its first slot, spread so the total rate is even."""
        start = perf_counter_ns() + 1_000_000
        count = len(self.connections)
        for k, conn in enumerate(self.connections):
            if conn.done:
                continue
            offset = int(self.next_gap() if self.plan.arrival == "poisson" else self.next_gap() * k / count)
            conn.due = start + offset
            heapq.heappush(self.parked, (conn.due, id(conn), conn))

    def set_sending(self, sending: bool):
        self.sending = sending
        for conn in self.connections:
            conn.sending = sending

    async def _until_idle(self, loop):
        """Wait (not sending) until no request is in flight; the timeout watcher bounds the wait."""
        self._all_idle = loop.create_future()
        self.connection_idle(None)
        if not self._all_idle.done():
            await asyncio.wait_for(self._all_idle, self.plan.timeout_s + 1.0)

    async def run(self) -> LoadOutcome:
        plan, outcome = self.plan, self.outcome
        loop = asyncio.get_running_loop()
        limit = asyncio.Semaphore(256)
        made = await asyncio.gather(*(self._connect_one(loop, i, limit) for i in range(plan.connections)))
        self.connections = [c for c in made if c is not None]
        outcome.connected = len(self.connections)
        if not self.connections:
            return outcome
        watcher = asyncio.ensure_future(self._watch_timeouts())
        try:
            # ramp-up: every connection proves it is served with one verified exchange before the
            # load starts; one that gets no reply within the timeout is starved (and counted)
            for conn in self.connections:
                conn.send_next()
            await self._until_idle(loop)
            outcome.ramped = sum(1 for c in self.connections if c.completed and not c.done)
            self.on_event("connected")
            self.set_sending(True)
            ticker = None
            if plan.open_loop:
                self.start_timetable()
                ticker = asyncio.ensure_future(self._ticker())
            else:
                for conn in self.connections:
                    if not conn.done:
                        conn.send_next()
            await asyncio.sleep(plan.warmup_s)
            cores = tuple(sorted(os.sched_getaffinity(0)))
            start_index = len(self.latencies)
            late_start = len(self.lateness)
            cores0, cpu0, t0 = cpu.read_cores(), time.process_time(), time.perf_counter()
            self.on_event("window_start")
            await asyncio.sleep(plan.duration_s)
            end_index = len(self.latencies)
            late_end = len(self.lateness)
            if plan.open_loop:
                outcome.backlog_end = self.schedule_backlog(perf_counter_ns())
            cpu1, t1, cores1 = time.process_time(), time.perf_counter(), cpu.read_cores()
            self.on_event("window_end")
            self.set_sending(False)
            self.parked.clear()
            if ticker is not None:
                ticker.cancel()
            await self._until_idle(loop)   # drain: each request in flight gets its reply or times out
        finally:
            watcher.cancel()
            for task in self._reconnecting:
                task.cancel()
            for conn in self.connections:
                conn.close()
        outcome.window_s = t1 - t0
        outcome.loadgen_cpu_s = cpu1 - cpu0
        outcome.loadgen_cores = cores
        outcome.loadgen_core_busy_pct = cpu.busy_pct(cores0, cores1, cores)
        outcome.latencies_ns = self.latencies[start_index:end_index]
        outcome.verified_replies_total = len(self.latencies)      # every reply is recorded once verified
        if plan.open_loop:
            outcome.latencies_uncorrected_ns = self.latencies_uncorrected[start_index:end_index]
            outcome.lateness_ns = self.lateness[late_start:late_end]
        outcome.requests = end_index - start_index
        outcome.served_connections = min(plan.connections, sum(1 for c in self.connections if c.completed))
        await asyncio.sleep(0)          # let transports finish closing
        return outcome


def run_load(plan: LoadPlan, workload: ClientWorkload, on_event=None, use_uvloop: bool = True,
             engine: str | None = None) -> LoadOutcome:
    """Run one load on `engine` (concbench.clients.native_engine.resolve: native where built, else uvloop);
    the uvloop engine runs in a fresh event loop (uvloop unless asked otherwise)."""
    if resolve(engine) == "native" and supports(workload) is None:
        return run_native(plan, workload, on_event)
    loop_factory = None
    if use_uvloop:
        import uvloop
        loop_factory = uvloop.new_event_loop
    if workload.connection_per_request:
        generator = ChurnGenerator(plan, workload, on_event)
    else:
        generator = LoadGenerator(plan, workload, on_event)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(generator.run())


def probe(host: str, port: int, timeout_s: float = 2.0) -> str | None:
    """None if host:port accepts a TCP connection, else one line saying why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except socket.gaierror as exc:
        return f"cannot resolve {host!r}: {exc.strerror}"
    except socket.timeout:
        return f"{host}:{port} did not answer within {timeout_s:g} s"
    except OSError as exc:
        if exc.errno == errno.ECONNREFUSED:
            return f"{host}:{port} refused the connection (is a server listening?)"
        return f"{host}:{port}: {exc.strerror or exc}"
