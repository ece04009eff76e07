"""The one line protocol between concbench and every child process it starts: each line a child prints for its
parent is one JSON object naming an event, `ready` first, then the events its parent expects (`result` last).

It owns the wording of those lines, writing and reading them, and nothing else: no process, no socket, no wait.
A line that is not a JSON object with a string "event" is no protocol line (a runner's own output, say).
"""
from __future__ import annotations

import json

EVENT = "event"
READY = "ready"          # the child is up and does what it was started for; what it reports about itself rides on it
RESULT = "result"        # a measuring child's last word: {"event": "result", "result": {...}}


def event_line(event: str, **fields) -> str:
    """One protocol line (no newline): {"event": event, **fields}."""
    return json.dumps({EVENT: event, **fields})


def emit(event: str, **fields) -> None:
    """Print one protocol line on stdout, flushed: the parent reads it at once."""
    print(event_line(event, **fields), flush=True)


def ready_line(**fields) -> str:
    return event_line(READY, **fields)


def parse_event(line: str) -> dict | None:
    """The event of one line (its fields, "event" included), or None if the line is no protocol line."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if isinstance(event, dict) and isinstance(event.get(EVENT), str):
        return event
    return None


def parse_ready_line(line: str) -> dict | None:
    """The fields of a ready line, or None if `line` is not one."""
    event = parse_event(line)
    return event if event is not None and event[EVENT] == READY else None
