"""processes-pool: N pre-forked workers, each multiplexing its keep-alive connections with a selector
but handling one request at a time with blocking calls: a bounded pool of N (gunicorn sync workers
behind keep-alive). Workers default to 2 x server cores + 1 like `processes`; backend scenario: each
worker holds one blocking backend socket, so at most N calls are out at once (plateau near N / D).
Stream scenario: a worker serves one stream to its end with blocking sendall (held all the while).
"""
from __future__ import annotations

import selectors

from concbench.fairness import RECV_SIZE, configure_connection

from . import backend_address
from concbench.scenarios.base import is_streaming

from .blocking import BlockingBackend, handle_request_data, serve_stream_connection
from .processes import prefork, worker_count


def worker(listener, make_session, backend) -> None:
    """One worker's loop: accept what it can, then serve whichever connection is readable, one at a time."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    streaming = is_streaming(make_session)
    while True:
        for key, _ in selector.select():
            if key.data is None:
                try:
                    conn, _ = listener.accept()
                except OSError:          # another worker took it, or out of descriptors: next event
                    continue
                conn.setblocking(True)
                configure_connection(conn)
                selector.register(conn, selectors.EVENT_READ, make_session())
                continue
            conn = key.fileobj
            if streaming:                # the worker is held for the whole stream, blocking sends
                selector.unregister(conn)
                serve_stream_connection(conn, key.data)
                continue
            try:
                data = conn.recv(RECV_SIZE)
                keep = bool(data) and handle_request_data(conn, key.data, data, backend)
            except (OSError, ValueError):
                keep = False
            if not keep:
                selector.unregister(conn)
                conn.close()


def serve(listener, make_session, options, ready) -> None:
    workers = worker_count(options)
    address = backend_address(options) if options.get("backend") else None
    listener.setblocking(False)          # every worker selects on it; the one that accepts first gets it

    def work():                          # after the fork: the worker's own backend connection
        worker(listener, make_session, BlockingBackend(address) if address else None)

    prefork(listener, workers, work, ready, pool=workers)
