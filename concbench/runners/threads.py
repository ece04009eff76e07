"""threads: one OS thread per connection, blocking sockets (the classic thread-per-client server).

The main thread accepts; each connection gets a daemon threading.Thread running the shared loop.
Option stack_size (bytes) sets threading.stack_size before any thread starts (default: the OS's, ulimit -s);
option switch_interval_ms sets sys.setswitchinterval (default: CPython's 5 ms).
Backend scenario: each thread holds its own blocking backend socket (unbounded, one per connection).
"""
from __future__ import annotations

import signal
import sys
import threading

from . import backend_address, idle_timeout, with_idle_timeout
from .blocking import BlockingBackend, accept_forever, connection_handler, serve_backend_connection


def _stop(signum, frame):
    raise KeyboardInterrupt


def serve(listener, make_session, options, ready) -> None:
    signal.signal(signal.SIGTERM, _stop)
    if options.get("stack_size"):
        threading.stack_size(int(options["stack_size"]))   # ValueError below 32 KiB: bad input
    if options.get("switch_interval_ms"):
        sys.setswitchinterval(float(options["switch_interval_ms"]) / 1000)   # ValueError at 0 or below

    serve_one = connection_handler(make_session)
    if options.get("backend"):
        address = backend_address(options)

        def serve_one(conn, session):   # noqa: F811  (the backend scenario: a backend socket per thread)
            backend = BlockingBackend(address)
            try:
                serve_backend_connection(conn, session, backend)
            finally:
                backend.close()

    serve_one = with_idle_timeout(serve_one, idle_timeout(options))

    def handle_connection(conn):
        threading.Thread(target=serve_one, args=(conn, make_session()), daemon=True).start()

    ready(**({"pool": "unbounded"} if options.get("backend") else {}))
    try:
        accept_forever(listener, handle_connection)
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
