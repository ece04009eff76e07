"""An exact number of verified requests, closed loop, one thread per connection (for `--measure instructions`).

It owns connecting, splitting a request count over the connections, and checking every reply (fixed bytes or
the scenario's response check); it never times anything. The time-window load generator is concbench.clients.loadgen.
"""
from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from concbench.scenarios.base import ClientWorkload

from concbench.fairness import configure_connection


@dataclass
class CountedOutcome:
    """What one counted run saw: `requests` verified replies out of `planned`."""
    planned: int
    requests: int = 0
    connections_opened: int = 0          # connects made during this run (churn: one per request)
    errors: dict = field(default_factory=dict)
    first_error: str = ""

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def complete(self) -> bool:
        return self.requests == self.planned and not self.error_count


def split(requests: int, connections: int) -> list[int]:
    """`requests` spread over `connections` as evenly as possible; the parts sum to `requests` exactly."""
    base, extra = divmod(requests, connections)
    return [base + (1 if i < extra else 0) for i in range(connections)]


class ReplyError(Exception):
    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


class CountedClient:
    """`connections` keep-alive connections (or, for a churn workload, a new connection per request) that
    send exactly the requests asked for by run(), each reply verified before the next request."""

    def __init__(self, host: str, port: int, workload: ClientWorkload, connections: int, timeout_s: float = 60.0,
                 settle=None, hold=None, release=None):
        self.host, self.port, self.workload = host, port, workload
        # settle(): called between rounds (every connection has its verified reply) and returns when the server is
        # idle again, so each round meets the same server state; with it, requests go in rounds of `connections`
        self.settle = settle
        # hold() / release(): around the sends of a round (with settle, keep-alive only): the server paused while
        # every connection's request is sent, so that it finds all of them waiting at once (a fixed batch)
        self.hold, self.release = hold, release
        self.connections, self.timeout_s = connections, timeout_s
        self.ring = [(e.request, e.expected_reply) for e in workload.exchanges]
        self.socks: list[socket.socket] = []
        self.next_index = list(range(connections))      # connection i starts at exchange i of the ring
        self.checks = [workload.response_check() if workload.response_check else None for _ in range(connections)]

    @property
    def churn(self) -> bool:
        return self.workload.connection_per_request

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        configure_connection(sock)
        return sock

    def open(self) -> "CountedClient":
        """Connect every keep-alive connection (nothing for churn); OSError if one cannot connect."""
        if not self.churn:
            for _ in range(self.connections):
                self.socks.append(self._connect())
        return self

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
        self.socks = []

    def _read_reply(self, sock: socket.socket, expected: bytes, check) -> None:
        buffer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                raise ReplyError("timeout", f"no whole reply within {self.timeout_s:g} s") from None
            except OSError as exc:
                raise ReplyError("reset", exc.strerror or str(exc)) from None
            if not chunk:
                if self.churn and check is None and buffer == expected:
                    return                # churn: the reply, then the server's close
                if self.churn and check is not None and buffer and check.frame(buffer) == len(buffer):
                    break
                raise ReplyError("closed", f"server closed after {len(buffer)} bytes of the reply")
            buffer += chunk
            if check is None:
                if len(buffer) > len(expected) or expected[:len(buffer)] != buffer:
                    raise ReplyError("mismatch", f"reply differs from the expected {len(expected)} bytes")
                if len(buffer) == len(expected) and not self.churn:
                    return
            else:
                size = check.frame(buffer)
                if size < 0:
                    raise ReplyError("mismatch", f"reply cannot be framed (starts {buffer[:40]!r})")
                if size and size != len(buffer):
                    raise ReplyError("mismatch", f"{len(buffer) - size} bytes after the reply, which nobody asked for")
                if size and not self.churn:
                    break
        problem = check.problem(buffer)
        if problem:
            raise ReplyError("mismatch", problem)

    def _exchange(self, slot: int, sent=None) -> None:
        """One request and its verified reply; `sent` (a barrier) is waited on between the send and the read."""
        request, expected = self.ring[self.next_index[slot] % len(self.ring)]
        self.next_index[slot] += self.connections        # connections never send the same message at once
        if self.churn:
            try:
                sock = self._connect()
            except OSError as exc:
                raise ReplyError("connect", exc.strerror or str(exc)) from None
            with sock:
                sock.sendall(request)
                self._read_reply(sock, expected, self.checks[slot])
            return
        sock = self.socks[slot]
        try:
            sock.sendall(request)
        except OSError as exc:
            raise ReplyError("reset", exc.strerror or str(exc)) from None
        if sent is not None:
            sent.wait(self.timeout_s)
        self._read_reply(sock, expected, self.checks[slot])

    def rounded(self, requests: int) -> int:
        """With settle, requests go in whole rounds: `requests` rounded up to a multiple of the connections."""
        return -(-requests // self.connections) * self.connections if self.settle else requests

    def run(self, requests: int) -> CountedOutcome:
        """Exactly `requests` exchanges (rounded(requests) with settle) over all connections at once; a connection
        stops at its first error."""
        requests = self.rounded(requests)
        outcome = CountedOutcome(planned=requests)
        lock = threading.Lock()
        start = threading.Barrier(self.connections)
        rounds = threading.Barrier(self.connections, action=self.settle) if self.settle else None
        batched = self.settle is not None and self.hold is not None and not self.churn
        held = threading.Barrier(self.connections, action=self.hold) if batched else None
        sent = threading.Barrier(self.connections, action=self.release) if batched else None

        def drive(slot: int, count: int) -> None:
            done = 0
            try:
                start.wait(self.timeout_s)
                for _ in range(count):
                    if held is not None:
                        held.wait(self.timeout_s)
                    self._exchange(slot, sent)
                    done += 1
                    if rounds is not None:
                        rounds.wait(self.timeout_s)
            except ReplyError as exc:
                with lock:
                    outcome.errors[exc.kind] = outcome.errors.get(exc.kind, 0) + 1
                    outcome.first_error = outcome.first_error or f"{exc.kind}: {exc.detail}"
                for barrier in (rounds, held, sent):
                    if barrier is not None:
                        barrier.abort()     # the other connections stop at their next round
            except threading.BrokenBarrierError:
                pass
            with lock:
                outcome.requests += done
                outcome.connections_opened += done if self.churn else 0

        threads = [threading.Thread(target=drive, args=(slot, count), daemon=True)
                   for slot, count in enumerate(split(requests, self.connections))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcome
