"""threads-pool: a bounded thread pool behind a selector (gunicorn's gthread worker), blocking sockets.

The main thread watches the listener and every idle keep-alive connection with a selector; a readable
connection is handed to a concurrent.futures.ThreadPoolExecutor of `pool` threads (default 16), which
reads and handles one request, then re-registers it. Backend scenario: each pool thread holds its own
blocking backend socket, so at most `pool` calls are out at once (throughput plateaus near pool / D).
Stream scenario: a pool thread serves one stream to its end with blocking sendall (held all the while).
"""
from __future__ import annotations

import selectors
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

from concbench.fairness import RECV_SIZE, configure_connection

from . import backend_address
from concbench.scenarios.base import is_streaming

from .blocking import BlockingBackend, handle_request_data, serve_stream_connection

DEFAULT_POOL = 16
SELECT_TIMEOUT_S = 1.0          # how often the main thread wakes up when nothing happens (to stop)


def pool_size(options) -> int:
    size = int(options.get("pool") or DEFAULT_POOL)
    if size < 1:
        raise ValueError("pool must be at least 1")
    return size


def _stop(signum, frame):
    raise KeyboardInterrupt


def serve(listener, make_session, options, ready) -> None:
    signal.signal(signal.SIGTERM, _stop)
    size = pool_size(options)
    selector = selectors.DefaultSelector()
    lock = threading.Lock()           # the selector is shared by the main thread and the pool (as gthread does)
    local = threading.local()         # each pool thread's own backend connection
    address = backend_address(options) if options.get("backend") else None

    def thread_backend():
        if address is None:
            return None
        backend = getattr(local, "backend", None)
        if backend is None:
            backend = local.backend = BlockingBackend(address)
        return backend

    streaming = is_streaming(make_session)

    def handle(conn, session):
        """In a pool thread: one read, everything it answers, then back to the selector (or closed)."""
        if streaming:                   # the pool thread is held for the whole stream, blocking sends
            serve_stream_connection(conn, session)
            return
        try:
            data = conn.recv(RECV_SIZE)
            keep = bool(data) and handle_request_data(conn, session, data, thread_backend())
        except (OSError, ValueError):
            keep = False
        if keep:
            with lock:
                selector.register(conn, selectors.EVENT_READ, session)
        else:
            conn.close()

    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ, None)
    ready(pool=size)
    executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="pool")
    try:
        while True:
            for key, _ in selector.select(SELECT_TIMEOUT_S):
                if key.data is None:
                    accept_ready(listener, selector, lock, make_session)
                    continue
                with lock:
                    selector.unregister(key.fileobj)
                executor.submit(handle, key.fileobj, key.data)
    except KeyboardInterrupt:
        pass
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        listener.close()


def accept_ready(listener, selector, lock, make_session) -> None:
    """Accept every pending connection (non-blocking listener) and watch it; errors leave the rest for later."""
    while True:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:                  # out of descriptors, aborted connection: try again on the next wake-up
            return
        conn.setblocking(True)
        configure_connection(conn)
        with lock:
            selector.register(conn, selectors.EVENT_READ, make_session())
