"""fork: a process per connection (the inetd model): the parent accepts, forks a child that serves that
one connection with blocking sockets and exits; the parent closes its copy and reaps children.

Beside `processes` (pre-forked workers): here a process is created per connection, so its cost is paid at
connect time (churn shows it) and there is no limit but the kernel's. Backend scenario: each child opens
its own blocking backend socket. SIGINT/SIGTERM: the parent stops accepting and SIGTERMs its children.
"""
from __future__ import annotations

import errno
import os
import signal

from . import backend_address
from .blocking import BlockingBackend, connection_handler, serve_backend_connection
from .processes import STOP_SIGNALS, _stop, _stop_children


def _reap(children: set) -> None:
    """Collect every child that has exited (never blocks)."""
    while children:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        children.discard(pid)


def serve(listener, make_session, options, ready) -> None:
    serve_one = connection_handler(make_session)
    address = backend_address(options) if options.get("backend") else None

    def child(conn) -> None:
        if address is None:
            serve_one(conn, make_session())
            return
        backend = BlockingBackend(address)
        try:
            serve_backend_connection(conn, make_session(), backend)
        finally:
            backend.close()

    children: set = set()
    signal.signal(signal.SIGTERM, _stop)
    ready(pool="unbounded")
    try:
        while True:
            _reap(children)              # exited children are collected at the next connection
            try:
                conn, _ = listener.accept()
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED,
                                 errno.EPROTO):
                    continue
                raise
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            pid = os.fork()
            if pid == 0:
                try:
                    signal.signal(signal.SIGINT, signal.SIG_IGN)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.pthread_sigmask(signal.SIG_SETMASK, previous)
                    listener.close()
                    child(conn)
                finally:
                    os._exit(0)
            children.add(pid)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            conn.close()
    except KeyboardInterrupt:
        pass
    finally:
        _stop_children(children)
        listener.close()
