"""threads: one OS thread per connection, blocking sockets (the classic thread-per-client server).

The main thread accepts; each connection gets a daemon threading.Thread running the shared loop.
Option stack_size (bytes) sets threading.stack_size before any thread starts (default: the OS's, ulimit -s).
"""
from __future__ import annotations

import signal
import threading

from .blocking import accept_forever, connection_handler


def _stop(signum, frame):
    raise KeyboardInterrupt


def serve(listener, make_session, options, ready) -> None:
    signal.signal(signal.SIGTERM, _stop)
    if options.get("stack_size"):
        threading.stack_size(int(options["stack_size"]))   # ValueError below 32 KiB: bad input

    serve_one = connection_handler(make_session)

    def handle_connection(conn):
        threading.Thread(target=serve_one, args=(conn, make_session()), daemon=True).start()

    ready()
    try:
        accept_forever(listener, handle_connection)
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
