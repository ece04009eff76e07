"""Running one measuring child (`concbench load --events`, the stream client) that prints protocol events after its
ready line, ending with {"event": "result", "result": {...}}: events are passed on as they come, and the child is
killed at a deadline counted from its ready line.

It owns that run only (the child itself is a concbench.harness.child); what the result means is the caller's. A
child that ends without a result is described by what really happened: the signal or exit code, when (seconds into
the window, or before it), and its last stderr lines.
"""
from __future__ import annotations

import time

from concbench.harness.child import Child, ChildFailed, when
from concbench.harness.protocol import EVENT, RESULT

STOP_GRACE_S = 1.0
EXIT_WAIT_S = 5.0         # after its result: how long it may take to exit by itself before it is stopped


def run_event_child(command: list[str], deadline_s: float, on_event, what: str) -> tuple[dict | None, str]:
    """(the child's result, "") or (None, one line saying why there is none)."""
    child = Child(command, what=what)
    try:
        child.start()
    except ChildFailed as exc:
        return None, str(exc)
    marks: dict[str, float] = {}
    result, watchdog = None, False
    try:
        while True:
            try:
                event = child.next_event(child.ready_at + deadline_s - time.monotonic())
            except TimeoutError:
                watchdog = True
                child.kill()
                break
            if event is None:
                break
            if event[EVENT] == RESULT:
                result = event.get(RESULT)
                child.death(EXIT_WAIT_S)
                break
            marks[event[EVENT]] = time.monotonic()
            on_event(event[EVENT])
    finally:
        child.stop(STOP_GRACE_S)               # interrupted, or a watchdog: TERM, then KILL
    if isinstance(result, dict):
        return result, ""
    at = when(child.died_at or time.monotonic(), child.ready_at, marks.get("window_start"), marks.get("window_end"))
    if watchdog:
        reason = f"{what} killed by concbench's watchdog at its deadline, {deadline_s:g} s after it was ready ({at})"
    else:
        reason = f"{what} {child.death()} {at} without a result"
    if child.unreadable:
        reason += f"; unreadable output: {child.unreadable!r}"
    tail = child.last_words(3, silent="")
    return None, reason + (f"; last stderr: {tail}" if tail else "; no stderr output")
