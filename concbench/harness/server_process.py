"""Starting and stopping one fresh `concbench serve` process for a measurement.

It owns the child's lifetime: start, wait for the ready line (bounded), stop with SIGTERM,
then SIGKILL of the process group it started, by pid. It never touches other processes.
"""
from __future__ import annotations

import os
import select
import selectors
import subprocess
import sys
import tempfile
import threading
import time

from concbench.harness import lifecycle
from concbench.harness.serve import complete_lines, parse_ready_line

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


class ServerFailed(Exception):
    """The server did not start, or died; the message carries its last words."""


class ServerProcess:
    def __init__(self, runner: str, scenario: str, params: dict, cpus: tuple[int, ...] | None,
                 options: dict | None = None, host: str = "127.0.0.1", env: dict | None = None,
                 backend: str | None = None):
        # run --python (concbench.studies.interpreters): the server under another interpreter's environment
        python = os.environ.get("CONCBENCH_SERVER_PYTHON") or sys.executable
        self.command = [python, "-m", "concbench", "serve", runner, scenario, "--port", "0", "--host", host]
        if cpus:
            self.command += ["--cpus", ",".join(map(str, cpus))]
        for name, value in params.items():
            self.command += ["--param", f"{name}={value}"]
        for name, value in (options or {}).items():
            self.command += ["--option", f"{name}={value}"]
        if backend:
            self.command += ["--backend", backend]
        self.env = {**os.environ, **env} if env else None     # e.g. MALLOC_ARENA_MAX for memory runs
        self.runner = runner
        self.proc: subprocess.Popen | None = None
        self.host = host
        self.port = 0
        self.pid = 0
        self.ready_fields: dict = {}      # everything on the ready line, e.g. pool=16 from a pooled runner
        self._stderr = tempfile.TemporaryFile()

    def last_words(self, lines: int = 1) -> str:
        """The last `lines` lines of its stderr (joined by ' | '), or 'no output'."""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) if text else "no output"

    def death(self) -> str:
        """How it ended, once it has: 'killed by SIGKILL' or 'exited with 1'."""
        from concbench.harness.event_child import describe_exit
        return describe_exit(self.proc.returncode if self.proc else None)

    def start(self, ready_timeout_s: float = READY_TIMEOUT_S) -> "ServerProcess":
        self.proc = lifecycle.spawn(self.command, owns_group=True, stdout=subprocess.PIPE, stderr=self._stderr,
                                    stdin=subprocess.DEVNULL, env=self.env)
        try:
            return self._wait_ready(ready_timeout_s)
        except BaseException:        # not ready, or interrupted while waiting: nothing is left running
            self.stop()
            raise

    def _wait_ready(self, ready_timeout_s: float) -> "ServerProcess":
        deadline = time.monotonic() + ready_timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            buffered = b""
            while time.monotonic() < deadline:
                if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    self.proc.wait()
                    raise ServerFailed(f"server {self.death()} before ready: {self.last_words(3)}")
                buffered += chunk
                for line in complete_lines(buffered.decode(errors="replace")):
                    fields = parse_ready_line(line)
                    if fields:
                        self.port, self.pid = fields["port"], fields["pid"]
                        self.ready_fields = fields
                        return self
        raise ServerFailed(f"server not ready within {ready_timeout_s:g} s: {self.last_words(3)}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    died_at: float | None = None      # time.monotonic() when the process ended, once watch() has seen it

    def watch(self) -> None:
        """Note the moment the server process ends (a pidfd: nothing is reaped), so that a death is reported with
        when it happened, not only how; the watching thread ends with the process."""
        try:
            fd = os.pidfd_open(self.proc.pid)
        except (OSError, AttributeError):       # no pidfd (Linux < 5.3): the time of death stays unknown
            return

        def wait():
            try:
                select.select([fd], [], [])          # readable once the process has ended
                self.died_at = time.monotonic()
            finally:
                os.close(fd)
        threading.Thread(target=wait, name="server-death-watch", daemon=True).start()

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        # SIGTERM to its whole process group (its own session), SIGKILL to what is left after the grace period
        lifecycle.stop_process(proc, owns_group=True, grace_s=STOP_TIMEOUT_S)
        if proc.stdout:
            proc.stdout.close()
        self._stderr.close()
        self.proc = None
