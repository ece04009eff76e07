"""Running one measuring child (`concbench load --events`, the stream client) that prints JSON events, one per
line, ending with {"event": "result", ...}: events are passed on as they come, the child is killed at a deadline.

It owns that child's lifetime only (started in its own session, so its own children go with it, and killed by
its own pid); what the result means is the caller's. A child that ends without a result is described by what
really happened: the signal or exit code, when (seconds into the window, or before it), and its last stderr lines.
"""
from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import threading
import time

from concbench.harness import lifecycle

STDERR_LINES = 3


def describe_exit(returncode: int | None) -> str:
    """'killed by SIGKILL', 'exited with 1', 'still running'."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with {returncode}"


def when(ended: float, started: float, window_start: float | None, window_end: float | None) -> str:
    """When something ended, relative to the measuring window the child reported."""
    if window_end is not None:
        return f"{ended - window_end:.1f} s after the window"
    if window_start is not None:
        return f"{ended - window_start:.1f} s into the window"
    return f"{ended - started:.1f} s after start, before the window"


def last_lines(stream, count: int = STDERR_LINES) -> str:
    stream.seek(0)
    lines = [line.strip() for line in stream.read().decode(errors="replace").splitlines() if line.strip()]
    return " | ".join(lines[-count:])


def run_event_child(command: list[str], deadline_s: float, on_event, what: str) -> tuple[dict | None, str]:
    """(the child's result, "") or (None, one line saying why there is none)."""
    stderr = tempfile.TemporaryFile()
    proc = lifecycle.spawn(command, owns_group=True, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
    started = time.monotonic()
    marks: dict[str, float] = {}
    watchdog_fired = threading.Event()

    def watchdog():
        watchdog_fired.set()
        proc.kill()

    timer = threading.Timer(deadline_s, watchdog)
    timer.start()
    result = None
    garbled = ""
    try:
        for raw in proc.stdout:
            try:
                event = json.loads(raw)
                name = event["event"]
            except (ValueError, KeyError, TypeError):
                garbled = garbled or raw.decode(errors="replace").strip()[:200]
                continue
            if name == "result":
                result = event.get("result")
            else:
                marks[name] = time.monotonic()
                on_event(name)
        ended = time.monotonic()         # its stdout closed: it has ended (or closed it to end)
        proc.wait()
    finally:
        timer.cancel()
        lifecycle.stop_process(proc, owns_group=True, grace_s=1.0)   # interrupted: TERM, then KILL
        proc.stdout.close()
    try:
        if isinstance(result, dict):
            return result, ""
        at = when(ended, started, marks.get("window_start"), marks.get("window_end"))
        if watchdog_fired.is_set() and proc.returncode == -signal.SIGKILL:
            reason = f"{what} killed by concbench's watchdog at its deadline, {deadline_s:g} s after start ({at})"
        else:
            reason = f"{what} {describe_exit(proc.returncode)} {at} without a result"
        tail = last_lines(stderr)
        if garbled:
            reason += f"; unreadable output: {garbled!r}"
        return None, reason + (f"; last stderr: {tail}" if tail else "; no stderr output")
    finally:
        stderr.close()
