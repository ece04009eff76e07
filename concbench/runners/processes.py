"""processes: pre-forked workers sharing one listener, blocking sockets (Apache prefork / gunicorn's sync worker).

In `run`, workers are sized to the offered connections (one each, up to MAX_WORKERS; processes-fixed keeps
2 x cores + 1 whatever is offered).

A worker serves one connection at a time until the client closes it, so connections beyond
the worker count wait in the backlog: that starvation is what this model shows at high concurrency.
`prefork` is the arbiter, shared with the processes-httpserver variant. Backend scenario: each worker
holds one persistent blocking backend socket, so the workers are a bounded pool of N callers.
"""
from __future__ import annotations

import os
import signal
import time

from . import backend_address, idle_timeout, with_idle_timeout
from .blocking import BlockingBackend, accept_forever, connection_handler, serve_backend_connection


def default_workers() -> int:
    """gunicorn's advice: 2 x cores + 1, counting the cores the server is pinned to."""
    return 2 * len(os.sched_getaffinity(0)) + 1


# The cap on a pool sized to the offered connections (processes in `run`): Apache prefork's MaxRequestWorkers
# is 256 by default and commonly raised; 1024 covers the default suite's 1000 connections. Option max_workers.
MAX_WORKERS = 1024


def worker_count(options) -> int:
    """options['workers'] if given; else one per offered connection (options['connections'], set by `run` for a
    runner sized to them) up to options['max_workers'] (default MAX_WORKERS); else 2 x cores + 1."""
    if options.get("workers"):
        workers = int(options["workers"])
    elif options.get("connections"):
        workers = min(int(options["connections"]), int(options.get("max_workers") or MAX_WORKERS))
    else:
        workers = default_workers()
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return workers


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
STOP_WAIT_S = 5.0               # how long the arbiter waits for its workers after SIGTERM, then SIGKILL


def _spawn(children: set, work) -> None:
    """Fork one worker and record its pid. The stop signals stay blocked from before the fork until the pid
    is recorded (parent) or the worker's own handlers are set (child): a SIGTERM in between is delivered
    then, never lost (CPython clears a signal caught between fork and its after-fork hook) and never
    leaves an unrecorded worker behind."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)     # the arbiter decides when workers stop
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            work()
        finally:
            os._exit(0)
    children.add(pid)
    signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stop(signum, frame):
    raise KeyboardInterrupt


def _stop_children(children: set) -> None:
    """SIGTERM every worker, reap them for up to STOP_WAIT_S, then SIGKILL what is left (our own pids only)."""
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_WAIT_S
    waiting = set(children)
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                waiting.discard(pid)
        time.sleep(0.01)
    for pid in waiting:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def prefork(listener, workers: int, work, ready, **ready_fields) -> None:
    """Fork `workers` children each running work() on the shared listener; replace any that dies;
    on SIGINT/SIGTERM stop them all, then close the listener."""
    signal.signal(signal.SIGTERM, _stop)
    children: set = set()
    try:
        for _ in range(workers):
            _spawn(children, work)
        ready(**ready_fields)
        while True:                      # the arbiter: replace a worker that dies
            pid, _ = os.wait()
            if pid in children:
                children.discard(pid)
                _spawn(children, work)
    except KeyboardInterrupt:
        pass
    finally:
        _stop_children(children)
        listener.close()


def serve(listener, make_session, options, ready) -> None:
    workers = worker_count(options)
    serve_one = with_idle_timeout(connection_handler(make_session), idle_timeout(options))
    if options.get("backend"):
        address = backend_address(options)

        def work():                      # after the fork: the worker's own backend connection
            backend = BlockingBackend(address)
            accept_forever(listener, with_idle_timeout(
                lambda conn: serve_backend_connection(conn, make_session(), backend), idle_timeout(options)))

        prefork(listener, workers, work, ready, pool=workers)
        return
    prefork(listener, workers,
            lambda: accept_forever(listener, lambda conn: serve_one(conn, make_session())), ready, worker_processes=workers)
