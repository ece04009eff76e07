"""The idle-connection holder: a lean client process that opens connections, proves each with one
verified echo, then holds them idle (no reads, no selector registration) until told to close.

It owns only client sockets (plain non-blocking sockets and a selector, batch by batch, every wait
bounded). `hold_idle` is the process itself (its command line: `python -m concbench.cli.children idle-holder`);
`IdleHolder` is the parent's handle, a concbench.harness.child that answers each command with one protocol event.
"""
from __future__ import annotations

import errno
import os
import selectors
import signal
import socket
import sys
import time

from concbench.scenarios.echo import message

from concbench.fairness import configure_connection, pin_to_cpus, raise_open_file_limit
from concbench.harness import protocol
from concbench.harness.child import Child, ChildFailed

BATCH = 200                 # connections in flight at once while opening
MESSAGE_SIZE = 64
REPLY_TIMEOUT_S = 60.0      # the parent's bound on one command
ANSWER = "answer"           # the event that answers a command: {"event": "answer", "held": ...}
ANSWER_SLACK_S = 5.0        # beyond a command's own timeout, before the parent gives up on its answer


def verify_batch(sockets: list[socket.socket], first_index: int, timeout_s: float) -> tuple[int, str]:
    """Connect (already started), send one message, read its echo, for every socket in the batch.

    Returns (failures, first error). Sockets are left connected and unregistered."""
    expected = {sock: message(first_index + i, MESSAGE_SIZE) for i, sock in enumerate(sockets)}
    received = {sock: b"" for sock in sockets}
    failures, first_error = 0, ""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_WRITE)
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                sock = key.fileobj
                try:
                    if key.events == selectors.EVENT_WRITE:
                        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if error:
                            raise OSError(error, os.strerror(error))
                        configure_connection(sock)
                        sock.sendall(expected[sock])   # 64 bytes fit in any fresh send buffer
                        selector.modify(sock, selectors.EVENT_READ)
                        continue
                    chunk = sock.recv(4096)
                    if not chunk:
                        raise OSError(errno.ECONNRESET, "closed by the server before the echo")
                    received[sock] += chunk
                    if not expected[sock].startswith(received[sock]):
                        raise OSError(errno.EPROTO, "echo mismatch")
                    if received[sock] == expected[sock]:
                        selector.unregister(sock)
                except OSError as exc:
                    selector.unregister(sock)
                    failures += 1
                    first_error = first_error or f"{exc.strerror or exc}"
        if selector.get_map():
            failures += len(selector.get_map())
            first_error = first_error or f"no verified echo within {timeout_s:g} s"
    return failures, first_error


def open_connections(host: str, port: int, count: int, first_index: int, timeout_s: float) -> tuple[list, int, str]:
    """Open `count` verified connections in batches; returns (held sockets, failures, first error)."""
    held, failures, first_error, attempted = [], 0, "", 0
    deadline = time.monotonic() + timeout_s
    while attempted < count and time.monotonic() < deadline:
        batch = []
        for _ in range(min(BATCH, count - attempted)):
            attempted += 1
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            code = sock.connect_ex((host, port))
            if code not in (0, errno.EINPROGRESS):
                sock.close()
                failures += 1
                first_error = first_error or os.strerror(code)
                continue
            batch.append(sock)
        batch_failures, batch_error = verify_batch(batch, first_index + attempted,
                                                   max(0.1, deadline - time.monotonic()))
        failures += batch_failures
        first_error = first_error or batch_error
        held.extend(batch)       # failed ones are held too (closed with the rest); they are counted
    if attempted < count:
        failures += count - attempted
        first_error = first_error or f"only {attempted} of {count} connections attempted within {timeout_s:g} s"
    return held, failures, first_error


def open_pairs(count: int) -> list[socket.socket]:
    """Client-only calibration: `count` loopback connections whose both ends this process holds."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=2048)
    ends = []
    try:
        for start in range(0, count, BATCH):
            batch = [socket.create_connection(listener.getsockname()) for _ in range(min(BATCH, count - start))]
            for client in batch:
                server_end, _ = listener.accept()
                configure_connection(client)
                configure_connection(server_end)
                client.sendall(b"x")
                server_end.recv(1)
                ends += [client, server_end]
    finally:
        listener.close()
    return ends


def hold_idle(cpus: tuple[int, ...]) -> int:
    """The holder process (`concbench.cli.children idle-holder`): a ready event, then commands on stdin, one per
    line: `open HOST PORT N TIMEOUT`, `pairs N`, `close`; an `answer` event answers each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pin_to_cpus(cpus)
    raise_open_file_limit()
    protocol.emit(protocol.READY, pid=os.getpid())
    held: list[socket.socket] = []
    failed_total = 0
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "open":
            host, port, count, timeout_s = words[1], int(words[2]), int(words[3]), float(words[4])
            sockets, failures, first_error = open_connections(host, port, count, len(held), timeout_s)
            held.extend(sockets)
            failed_total += failures
            answer = {"held": len(held) - failed_total, "failed": failures, "first_error": first_error}
        elif words[0] == "pairs":
            held.extend(open_pairs(int(words[1])))
            answer = {"held": len(held)}
        elif words[0] == "close":
            for sock in held:
                sock.close()
            held, failed_total = [], 0
            answer = {"held": 0}
        else:
            answer = {"error": f"unknown command {words[0]!r}"}
        protocol.emit(ANSWER, **answer)
    return 0


class HolderFailed(ChildFailed):
    """The holder did not answer in time, or died."""


class IdleHolder(Child):
    """The parent's handle on one holder process (pinned to `cpus`), started at once; always close() it (or `with`)."""

    what = "idle holder"
    failure = HolderFailed
    eof_grace_s = 10.0               # closing its stdin closes its sockets and ends it

    def __init__(self, cpus: tuple[int, ...] | None):
        super().__init__([sys.executable, "-m", "concbench.cli.children", "idle-holder", "--cpus",
                          ",".join(map(str, cpus or ()))], stdin=True)
        self.start()

    def ask(self, command: str, timeout_s: float = REPLY_TIMEOUT_S) -> dict:
        self.send_line(command)
        return self.expect(ANSWER, timeout_s + ANSWER_SLACK_S, asked=f" to {command.split()[0]!r}")

    def open(self, host: str, port: int, count: int, timeout_s: float) -> dict:
        return self.ask(f"open {host} {port} {count} {timeout_s}", timeout_s)

