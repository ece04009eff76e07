"""processes: pre-forked workers sharing one listener, blocking sockets (gunicorn's sync worker).

A worker serves one connection at a time until the client closes it, so connections beyond
the worker count wait in the backlog: that starvation is what this model shows at high concurrency.
"""
from __future__ import annotations

import os
import signal

from .blocking import accept_forever, serve_connection


def default_workers() -> int:
    """gunicorn's advice: 2 x cores + 1, counting the cores the server is pinned to."""
    return 2 * len(os.sched_getaffinity(0)) + 1


def _worker(listener, make_session) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the arbiter decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    accept_forever(listener, lambda conn: serve_connection(conn, make_session()))


def _spawn(listener, make_session) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            _worker(listener, make_session)
        finally:
            os._exit(0)
    return pid


def _stop(signum, frame):
    raise KeyboardInterrupt


def serve(listener, make_session, options, ready) -> None:
    workers = int(options.get("workers") or default_workers())
    if workers < 1:
        raise ValueError("workers must be at least 1")
    signal.signal(signal.SIGTERM, _stop)
    children = {_spawn(listener, make_session) for _ in range(workers)}
    ready()
    try:
        while True:                      # the arbiter: replace a worker that dies
            pid, _ = os.wait()
            if pid in children:
                children.discard(pid)
                children.add(_spawn(listener, make_session))
    except KeyboardInterrupt:
        pass
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        listener.close()
