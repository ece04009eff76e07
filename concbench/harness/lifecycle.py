"""Interrupts and child processes of long commands: SIGINT, SIGTERM and SIGHUP become one Interrupted exception,
and every child started for a measurement is tracked by pid so that all of them can be stopped on the way out.

It owns the exit codes of an interrupt (128 + signal) and the stop sequence (the child's whole process group gets
SIGTERM, then SIGKILL after a grace period). It only ever signals processes it was given, by their pid.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_S = 3.0


class Interrupted(BaseException):
    """A stop signal arrived. BaseException, so `except Exception` in measuring code cannot swallow it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum       # 130 SIGINT, 143 SIGTERM, 129 SIGHUP


# pid -> (Popen, owns_group): children alive now. owns_group: started with start_new_session, so its
# process group id is its pid and holds its own children (workers, load-generator processes).
_children: dict[int, tuple[subprocess.Popen, bool]] = {}


def track(proc: subprocess.Popen, owns_group: bool) -> subprocess.Popen:
    _children[proc.pid] = (proc, owns_group)
    return proc


def spawn(command, owns_group: bool, **popen_kwargs) -> subprocess.Popen:
    """subprocess.Popen(command, start_new_session=owns_group, ...), tracked; a stop signal arriving while the
    child is being started is held until it is tracked (else a child started but not yet known would be left)."""
    with deferred():
        return track(subprocess.Popen(command, start_new_session=owns_group, **popen_kwargs), owns_group)


def untrack(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        _children.pop(proc.pid, None)


def live_children() -> list[int]:
    return [pid for pid, (proc, _) in _children.items() if proc.poll() is None]


def signal_child(proc: subprocess.Popen, owns_group: bool, signum: int) -> None:
    """signum to a child we started: its whole process group if it owns one, else the child alone while it runs."""
    try:
        if owns_group:
            os.killpg(proc.pid, signum)     # the group we created: its leader and everything it started
        elif proc.poll() is None:
            proc.send_signal(signum)
    except (ProcessLookupError, PermissionError):
        pass


def terminate(proc: subprocess.Popen, owns_group: bool) -> None:
    """SIGTERM, then SIGCONT: a stopped child (SIGSTOP, as `run --measure instructions` pauses a server) acts on it."""
    signal_child(proc, owns_group, signal.SIGTERM)
    signal_child(proc, owns_group, signal.SIGCONT)


def stop_process(proc: subprocess.Popen, owns_group: bool, grace_s: float = GRACE_S) -> None:
    """SIGTERM to the child (its whole group if it owns one), SIGKILL after grace_s; reaped on return."""
    if proc.poll() is None:
        terminate(proc, owns_group)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
    if owns_group or proc.poll() is None:        # leftovers of the group (workers) even if the leader is gone
        signal_child(proc, owns_group, signal.SIGKILL)
    proc.wait()
    untrack(proc)


def stop_all(grace_s: float = GRACE_S) -> int:
    """Stop every tracked child; the number that were still running."""
    running = [(proc, group) for proc, group in list(_children.values())]
    alive = 0
    for proc, group in running:            # TERM to all first, so their grace periods overlap
        if proc.poll() is None:
            alive += 1
            terminate(proc, group)
    deadline = time.monotonic() + grace_s
    for proc, group in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        stop_process(proc, group, grace_s=0.0)
    return alive


_deferring = {"depth": 0, "pending": None}


@contextlib.contextmanager
def deferred():
    """Within: a stop signal does not raise; it is raised on leaving (outermost level)."""
    _deferring["depth"] += 1
    try:
        yield
    finally:
        _deferring["depth"] -= 1
        pending = _deferring["pending"]
        if _deferring["depth"] == 0 and pending is not None:
            _deferring["pending"] = None
            raise Interrupted(pending)


@contextlib.contextmanager
def interruptible():
    """Within: the first SIGINT/SIGTERM/SIGHUP raises Interrupted in the main thread; later ones are ignored
    (the first is being handled: children stopped, results written). Handlers are restored on exit."""
    state = {"signum": None}

    def handler(signum, frame):
        if state["signum"] is None:
            state["signum"] = signum
            if _deferring["depth"]:
                _deferring["pending"] = signum
            else:
                raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield state
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
