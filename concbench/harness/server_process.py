"""One fresh `concbench serve` process for a measurement: its command line, and the port and pid on its ready line.

Everything else about its lifetime (its own session, the bounded wait for the ready line, the death watch, the stop:
SIGTERM, then SIGKILL of its process group) is concbench.harness.child's.
"""
from __future__ import annotations

import os
import sys

from concbench.harness.child import READY_TIMEOUT_S, Child, ChildFailed

STOP_TIMEOUT_S = 5.0


class ServerFailed(ChildFailed):
    """The server did not start, or died; the message carries its last words."""


class ServerProcess(Child):
    what = "server"
    failure = ServerFailed
    stop_grace_s = STOP_TIMEOUT_S

    def __init__(self, runner: str, scenario: str, params: dict, cpus: tuple[int, ...] | None,
                 options: dict | None = None, host: str = "127.0.0.1", env: dict | None = None,
                 backend: str | None = None):
        # run --python (concbench.studies.interpreters): the server under another interpreter's environment
        python = os.environ.get("CONCBENCH_SERVER_PYTHON") or sys.executable
        command = [python, "-m", "concbench", "serve", runner, scenario, "--port", "0", "--host", host]
        if cpus:
            command += ["--cpus", ",".join(map(str, cpus))]     # it pins itself (`serve --cpus`)
        for name, value in params.items():
            command += ["--param", f"{name}={value}"]
        for name, value in (options or {}).items():
            command += ["--option", f"{name}={value}"]
        if backend:
            command += ["--backend", backend]
        super().__init__(command, env=env)       # env: e.g. MALLOC_ARENA_MAX for memory runs
        self.runner = runner
        self.host = host
        self.port = 0

    def check_ready(self, fields: dict) -> str | None:
        if not isinstance(fields.get("port"), int) or not isinstance(fields.get("pid"), int):
            return "no port or pid"
        return None

    def start(self, ready_timeout_s: float = READY_TIMEOUT_S) -> "ServerProcess":
        super().start(ready_timeout_s)
        self.port, self.pid = self.ready_fields["port"], self.ready_fields["pid"]
        return self
