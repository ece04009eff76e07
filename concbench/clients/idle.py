"""The idle-connection holder: a lean client process that opens connections, proves each with one
verified echo, then holds them idle (no reads, no selector registration) until told to close.

It owns only client sockets (plain non-blocking sockets and a selector, batch by batch, every wait
bounded). `IdleHolder` is the parent's handle; `hold_idle` is the process itself.
"""
from __future__ import annotations

import errno
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

from concbench.scenarios.echo import message

from concbench.fairness import configure_connection, pin_to_cpus, raise_open_file_limit
from concbench.harness import lifecycle

BATCH = 200                 # connections in flight at once while opening
MESSAGE_SIZE = 64
REPLY_TIMEOUT_S = 60.0      # the parent's bound on one command


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
    """The holder process (`concbench.cli.children idle-holder`): commands on stdin, one per line:
    `open HOST PORT N TIMEOUT`, `pairs N`, `close`; a JSON line answers each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pin_to_cpus(cpus)
    raise_open_file_limit()
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
        print(json.dumps(answer), flush=True)
    return 0


class HolderFailed(Exception):
    """The holder did not answer in time, or died."""


class IdleHolder:
    """The parent's handle on one holder process (pinned to `cpus`); always close() it."""

    def __init__(self, cpus: tuple[int, ...] | None):
        command = [sys.executable, "-m", "concbench.cli.children", "idle-holder", "--cpus",
                   ",".join(map(str, cpus or ()))]
        self.proc = lifecycle.spawn(command, owns_group=False, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)      # tracked: a stop signal stops it
        self.pid = self.proc.pid

    def ask(self, command: str, timeout_s: float = REPLY_TIMEOUT_S) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=timeout_s + 5.0):
                raise HolderFailed(f"idle holder gave no answer to {command.split()[0]!r} within {timeout_s:g} s")
        line = self.proc.stdout.readline()
        if not line:
            raise HolderFailed(f"idle holder exited: {self.proc.stderr.read().strip()[-300:] or 'no output'}")
        return json.loads(line)

    def open(self, host: str, port: int, count: int, timeout_s: float) -> dict:
        return self.ask(f"open {host} {port} {count} {timeout_s}", timeout_s)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()           # EOF: the holder closes its sockets and exits
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        lifecycle.untrack(self.proc)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
