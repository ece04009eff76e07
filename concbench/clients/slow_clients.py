"""Slow clients (slowloris, measured): N connections that trickle each request a few bytes at a time,
verify every reply with the scenario's own check (the load generator's ClientWorkload), then trickle the next.

It owns only those client sockets, their counts and their bounds (a deadline it keeps by itself, a cap on
requests): one uvloop process, `trickle` (its command line: `python -m concbench.cli.children slow-clients`).
`SlowClients` is the parent's handle, a concbench.harness.child.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field

from concbench.scenarios.base import ClientWorkload

from concbench.clients.plan import ERROR_KINDS
from concbench.fairness import configure_connection, pin_to_cpus, raise_open_file_limit
from concbench.harness import protocol
from concbench.harness.child import Child, ChildFailed

STEP_BYTES = 4             # default: 4 bytes every 100 ms, so the http request (66 bytes) takes about 1.7 s
INTERVAL_S = 0.1
MAX_REQUESTS = 1_000_000   # a bound on slow requests in one run, besides the deadline
CONNECT_TIMEOUT_S = 5.0
CONNECTED = "connected"    # its event once every connection is open (or failed) and trickling, with a report
CONNECTED_SLACK_S = 10.0   # a loaded machine's scheduling, on top of the trickler's own bounds
RESULT_WAIT_S = 30.0       # after it is told to stop: its result
CONNECTING_AT_ONCE = 256
FD_MARGIN = 64


@dataclass
class TricklePlan:
    host: str
    port: int
    connections: int
    step_bytes: int = STEP_BYTES
    interval_s: float = INTERVAL_S
    reply_timeout_s: float = 2.0        # after a request's last byte; a late reply is a timeout (still waited for)
    deadline_s: float = 60.0            # from start: stop by itself even if nobody says stop
    max_requests: int = MAX_REQUESTS


@dataclass
class TrickleOutcome:
    connections: int
    connected: int = 0
    held: int = 0                       # connections still open when the trickling stopped
    requests: int = 0                   # slow requests whose reply was complete and verified
    served_connections: int = 0         # connections that had at least one verified reply
    waiting: int = 0                    # connections whose whole request was sent, reply pending, at the stop
    pieces: int = 0                     # writes of `step_bytes` or fewer
    errors: dict = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    first_error: str = ""
    stopped_by: str = ""                # "parent" (stdin closed), "deadline" or "max-requests"
    seconds: float = 0.0
    cpu_s: float = 0.0                  # this process's CPU time (it shares the load generator's cores)

    def report(self) -> dict:
        return {"connections": self.connections, "connected": self.connected, "held": self.held,
                "requests": self.requests, "served_connections": self.served_connections,
                "waiting": self.waiting, "pieces": self.pieces, "errors": sum(self.errors.values()),
                "error_kinds": {k: v for k, v in self.errors.items() if v}, "first_error": self.first_error,
                "stopped_by": self.stopped_by, "seconds": self.seconds, "cpu_s": self.cpu_s}


class SlowConnection(asyncio.Protocol):
    """One slow client: trickles a request, waits for its reply, verifies it, trickles the next."""

    def __init__(self, trickler: "Trickler", offset: int):
        self.trickler = trickler
        self.index = offset % len(trickler.ring)
        self.transport = None
        self.request = self.expected = b""
        self.sent = 0                   # bytes of the current request written
        self.reply = b""                # bytes of the current reply received so far
        self.check = trickler.workload.response_check() if trickler.workload.response_check else None
        self.last_byte_at = 0.0         # monotonic time of the request's last byte; 0 while trickling
        self.timed_out = False
        self.served = False
        self.done = False
        self.timer = None

    def connection_made(self, transport):
        self.transport = transport
        configure_connection(transport.get_extra_info("socket"))

    def start_request(self):
        self.request, self.expected = self.trickler.ring[self.index]
        self.index = (self.index + 1) % len(self.trickler.ring)
        self.sent, self.reply, self.last_byte_at, self.timed_out = 0, b"", 0.0, False
        self.step()

    def step(self):
        self.timer = None
        if self.done or self.trickler.stopping:
            return
        piece = self.request[self.sent:self.sent + self.trickler.plan.step_bytes]
        self.transport.write(piece)
        self.sent += len(piece)
        self.trickler.outcome.pieces += 1
        if self.sent < len(self.request):
            self.timer = self.trickler.loop.call_later(self.trickler.plan.interval_s, self.step)
        else:
            self.last_byte_at = time.monotonic()

    def data_received(self, data):
        if self.done:
            return
        self.reply += data
        if self.check is not None:                 # framed and judged by the scenario's response check
            size = self.check.frame(self.reply)
            if size == 0:
                return
            if size < 0:
                return self.fail("mismatch", f"reply cannot be framed (starts {self.reply[:40]!r})")
            if size != len(self.reply):
                return self.fail("mismatch", f"{len(self.reply) - size} bytes after the reply, which nobody asked for")
            problem = self.check.problem(bytes(self.reply))
            if problem:
                return self.fail("mismatch", problem)
        else:                                      # compared byte for byte (echo: each trickled piece comes back)
            if not self.expected.startswith(self.reply):
                return self.fail("mismatch", f"reply of {len(self.expected)} bytes: wrong bytes "
                                             f"(received so far starts {self.reply[:16]!r})")
            if len(self.reply) < len(self.expected):
                return
        if self.sent < len(self.request):
            return self.fail("mismatch", "a whole reply before the whole request was sent")
        self.served = True
        self.trickler.completed()
        if not self.trickler.stopping:
            self.timer = self.trickler.loop.call_later(self.trickler.plan.interval_s, self.start_request)

    def fail(self, kind: str, detail: str):
        if self.done:
            return
        self.done = True
        self.trickler.count_error(kind, detail)
        if self.timer is not None:
            self.timer.cancel()
        if self.transport is not None:
            self.transport.abort()

    def eof_received(self):
        if not self.trickler.stopping:
            self.fail("closed", "server closed a slow client's connection")
        return False

    def connection_lost(self, exc):
        if not self.done and not self.trickler.stopping:
            self.fail("reset" if exc is not None else "closed", f"connection lost: {exc or 'closed'}")

    def close(self):
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        if self.transport is not None:
            self.transport.close()


class Trickler:
    """Runs a TricklePlan: connect all, report ready, trickle until told to stop, the deadline or the cap."""

    def __init__(self, plan: TricklePlan, workload: ClientWorkload, on_ready=None):
        if workload.connection_per_request:
            raise ValueError("slow clients need a keep-alive scenario (not one connection per request)")
        self.plan, self.workload = plan, workload
        self.ring = tuple((e.request, e.expected_reply) for e in workload.exchanges)
        self.on_ready = on_ready or (lambda report: None)
        self.outcome = TrickleOutcome(plan.connections)
        self.stopping = False
        self.loop = None
        self.stop_event: asyncio.Event | None = None

    def count_error(self, kind: str, detail: str):
        self.outcome.errors[kind] += 1
        if not self.outcome.first_error:
            self.outcome.first_error = f"{kind}: {detail}"

    def completed(self):
        self.outcome.requests += 1
        if self.outcome.requests >= self.plan.max_requests:
            self.stop("max-requests")

    def stop(self, why: str):
        if not self.stopping:
            self.stopping = True
            self.outcome.stopped_by = why
            self.stop_event.set()

    async def _connect(self, offset: int, limit: asyncio.Semaphore):
        async with limit:
            if self.stopping:
                return None
            try:
                _, conn = await asyncio.wait_for(self.loop.create_connection(
                    lambda: SlowConnection(self, offset), self.plan.host, self.plan.port), CONNECT_TIMEOUT_S)
            except (OSError, asyncio.TimeoutError) as exc:
                detail = "timed out" if isinstance(exc, asyncio.TimeoutError) else (exc.strerror or str(exc))
                self.count_error("connect", f"{self.plan.host}:{self.plan.port}: {detail}")
                return None
            conn.start_request()             # the first piece leaves before `ready`
            return conn

    async def _watch_timeouts(self, connections):
        while not self.stopping:
            await asyncio.sleep(min(0.1, self.plan.reply_timeout_s / 4))
            now = time.monotonic()
            for conn in connections:
                if (conn.last_byte_at and not conn.timed_out and not conn.done
                        and now - conn.last_byte_at > self.plan.reply_timeout_s):
                    conn.timed_out = True      # counted once per request; the client keeps waiting
                    self.count_error("timeout", f"no whole reply within {self.plan.reply_timeout_s:g} s "
                                                f"of the request's last byte")

    async def run(self) -> TrickleOutcome:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        started, cpu_started = time.monotonic(), time.process_time()
        self.loop.call_later(self.plan.deadline_s, self.stop, "deadline")
        limit = asyncio.Semaphore(CONNECTING_AT_ONCE)
        made = await asyncio.gather(*(self._connect(i, limit) for i in range(self.plan.connections)))
        connections = [c for c in made if c is not None]
        self.outcome.connected = len(connections)
        self.on_ready({"connected": len(connections), "connect_errors": self.outcome.errors["connect"],
                       "first_error": self.outcome.first_error})
        watcher = asyncio.ensure_future(self._watch_timeouts(connections))
        try:
            await self.stop_event.wait()
        finally:
            self.stopping = True
            watcher.cancel()
            outcome = self.outcome
            outcome.held = sum(1 for c in connections if not c.done)
            outcome.served_connections = sum(1 for c in connections if c.served)
            outcome.waiting = sum(1 for c in connections if not c.done and c.last_byte_at)
            for conn in connections:
                conn.close()
            outcome.seconds = time.monotonic() - started
            outcome.cpu_s = time.process_time() - cpu_started
        await asyncio.sleep(0)               # let the transports close
        return self.outcome


def run_trickler(plan: TricklePlan, workload: ClientWorkload, on_ready=None, stop_on_stdin_eof: bool = False,
                 use_uvloop: bool = True) -> TrickleOutcome:
    """One trickle run in a fresh event loop; with stop_on_stdin_eof, a closed stdin (the parent) stops it."""
    loop_factory = None
    if use_uvloop:
        import uvloop
        loop_factory = uvloop.new_event_loop
    trickler = Trickler(plan, workload, on_ready)

    async def main():
        if stop_on_stdin_eof:
            loop = asyncio.get_running_loop()
            fd = sys.stdin.fileno()

            def readable():
                if not os.read(fd, 4096):
                    loop.remove_reader(fd)
                    trickler.stop("parent")
            loop.add_reader(fd, readable)
        return await trickler.run()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main())


def trickle(plan: TricklePlan, workload, cpus: tuple[int, ...]) -> int:
    """The trickler process (`concbench.cli.children slow-clients`): a ready event; `connected` (with a report) once
    it trickles; then, after stdin closes or at the deadline, `result`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)          # the parent decides when to stop (stdin)
    pin_to_cpus(cpus)
    raise_open_file_limit()

    protocol.emit(protocol.READY, pid=os.getpid())
    outcome = run_trickler(plan, workload, lambda report: protocol.emit(CONNECTED, **report), stop_on_stdin_eof=True)
    protocol.emit(protocol.RESULT, result=outcome.report())
    return 0


class SlowClientsFailed(ChildFailed):
    """The trickler did not get ready, or gave no result, within its bound; or it died."""


class SlowClients(Child):
    """The parent's handle on one trickler process (pinned to `cpus`), started at once: ready(), finish(), always
    close() (or `with`)."""

    what = "the slow clients"
    failure = SlowClientsFailed
    eof_grace_s = 5.0                # closing its stdin is its stop: it reports, then ends

    def __init__(self, scenario: str, params: dict, host: str, port: int, count: int, cpus, *,
                 step_bytes: int = STEP_BYTES, interval_s: float = INTERVAL_S, reply_timeout_s: float = 2.0,
                 deadline_s: float = 60.0, max_requests: int = MAX_REQUESTS):
        self.count, self.deadline_s = count, deadline_s
        command = [sys.executable, "-m", "concbench.cli.children", "slow-clients", scenario, "--host", host,
                   "--port", str(port),
                   "--connections", str(count), "--step-bytes", str(step_bytes), "--interval", repr(interval_s),
                   "--reply-timeout", repr(reply_timeout_s), "--deadline", repr(deadline_s),
                   "--max-requests", str(max_requests), "--cpus", ",".join(map(str, cpus or ()))]
        for name, value in params.items():
            command += ["--param", f"{name}={value}"]
        super().__init__(command, stdin=True)
        self.start()

    def ready(self) -> dict:
        """Wait until every connection is open (or failed) and trickling; its report."""
        # its clock runs from its ready line: connecting in batches, each connect bounded, or cut short at its deadline
        bound = min(CONNECT_TIMEOUT_S * (self.count // CONNECTING_AT_ONCE + 1), self.deadline_s + CONNECT_TIMEOUT_S)
        return self.expect(CONNECTED, bound + CONNECTED_SLACK_S)

    def finish(self) -> dict:
        """Tell it to stop (close its stdin), and return its result. close() (Child's stop) always follows."""
        self.close_stdin()
        return self.expect(protocol.RESULT, RESULT_WAIT_S)[protocol.RESULT]


def open_files_needed(fast_connections: int, slow_connections: int) -> int:
    """The server holds both kinds of connection at once (each client process holds its own kind)."""
    return fast_connections + slow_connections + FD_MARGIN


# The record fields this module adds to a measurement (see concbench.results.format.RECORD_KEYS).
def add_slow_evidence(record: dict, slow_clients: int, report: dict, step_bytes: int, interval_s: float) -> dict:
    """The trickler's report merged into a measurement record as slow_* fields. A wrong reply to a slow
    client fails the measurement (the server answered wrongly); slow requests refused, reset, closed or not
    answered in time are the finding, recorded but not failing it (the fast clients' figures stand)."""
    record = dict(record)
    record.update(slow_clients=slow_clients, slow_connected=report["connected"], slow_held=report["held"],
                  slow_requests=report["requests"], slow_served_connections=report["served_connections"],
                  slow_waiting=report["waiting"], slow_errors=report["errors"],
                  slow_error_kinds=report["error_kinds"], slow_first_error=report["first_error"],
                  slow_stopped_by=report["stopped_by"], slow_seconds=report["seconds"], slow_cpu_s=report["cpu_s"],
                  slow_step_bytes=step_bytes, slow_interval_s=interval_s)
    if report["error_kinds"].get("mismatch"):
        record["status"] = "failed"
        record["first_error"] = f"slow clients: {report['first_error']}"
    return record


def describe(record: dict) -> str:
    """One phrase for progress lines and tables: what the slow clients saw."""
    if not record.get("slow_clients"):
        return ""
    kinds = record.get("slow_error_kinds") or ""
    if isinstance(kinds, dict):                     # a record; a result file stores it as "kind=n,..."
        kinds = ",".join(f"{k}={v}" for k, v in sorted(kinds.items()))
    return (f"slow: {record.get('slow_served_connections', 0)}/{record['slow_clients']} served, "
            f"{record.get('slow_requests', 0)} replies verified, {record.get('slow_held', 0)} held"
            + (f", errors {kinds}" if kinds else ", 0 errors")
            + (f", trickler cpu {100 * record['slow_cpu_s'] / record['slow_seconds']:.0f}%"
               if record.get("slow_seconds") and "slow_cpu_s" in record else ""))
