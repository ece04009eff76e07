"""Running one measuring child (`concbench load --events`, the stream client) that prints JSON events, one per
line, ending with {"event": "result", ...}: events are passed on as they come, the child is killed at a deadline.

It owns that child's lifetime only (started and killed by its own pid); what the result means is the caller's.
"""
from __future__ import annotations

import json
import subprocess
import threading


def run_event_child(command: list[str], deadline_s: float, on_event, what: str) -> tuple[dict | None, str]:
    """(the child's result, "") or (None, one line saying why there is none)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    watchdog = threading.Timer(deadline_s, proc.kill)
    watchdog.start()
    result = None
    try:
        for raw in proc.stdout:
            event = json.loads(raw)
            if event["event"] == "result":
                result = event["result"]
            else:
                on_event(event["event"])
        stderr = proc.stderr.read().decode(errors="replace").strip()
        proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if result is not None:
        return result, ""
    if proc.returncode == -9:
        return None, f"{what} killed after {deadline_s:g} s"
    return None, stderr.splitlines()[-1] if stderr else f"{what} exited with {proc.returncode}"
