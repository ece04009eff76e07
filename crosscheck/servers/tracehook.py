"""Opt-in tracemalloc report for the crosscheck servers (imported by them; never by concbench).

With PYTHONTRACEMALLOC=1 (tracing from interpreter start) and CROSSCHECK_TRACE_OUT=PATH in the environment,
SIGUSR1 makes the server write its traced Python-level bytes (tracemalloc.get_traced_memory()[0]) to PATH,
and with CROSSCHECK_TRACE_SNAP=DIR also dump a snapshot there (snap-1, snap-2, ... in order), for
crosscheck/trace_diff.py. Without CROSSCHECK_TRACE_OUT, install() does nothing.
"""
import os
import signal
import tracemalloc

_count = 0


def report(*_):
    global _count
    path = os.environ["CROSSCHECK_TRACE_OUT"]
    snap_dir = os.environ.get("CROSSCHECK_TRACE_SNAP")
    if snap_dir:
        _count += 1
        tracemalloc.take_snapshot().dump(os.path.join(snap_dir, f"snap-{_count}"))
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else -1
    with open(path + ".tmp", "w") as f:
        f.write(f"{traced}\n")
    os.replace(path + ".tmp", path)


def install(loop=None) -> None:
    """SIGUSR1 -> report(); on `loop` (asyncio/uvloop) if given, else a plain signal handler."""
    if not os.environ.get("CROSSCHECK_TRACE_OUT"):
        return
    if loop is not None:
        loop.add_signal_handler(signal.SIGUSR1, report)
    else:
        signal.signal(signal.SIGUSR1, report)
