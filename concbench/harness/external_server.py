"""Any command as a server (`concbench run --server-cmd 'NAME=COMMAND with {port}'`): start it fresh, pinned,
wait until it accepts, verify it against the scenario's rules, then hand it to the measurement like a runner
({host} is 127.0.0.1; {backend}, HOST:PORT of the backend service for a scenario that needs one).

It owns the command's lifetime (its own session, stopped by SIGTERM then SIGKILL of that group only) and the
one-line reasons a command fails: does not start, does not serve, answers wrongly. Labelled external in results.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

from concbench.harness.server_process import READY_TIMEOUT_S, STOP_TIMEOUT_S, ServerFailed

CONNECT_POLL_S = 0.05
PIN_SHIM = "import os, sys; os.sched_setaffinity(0, {cpus!r}); os.execvp(sys.argv[1], sys.argv[1:])"


def parse_server_cmd(text: str) -> tuple[str, str]:
    """'NAME=COMMAND with {port}' -> (name, command); ValueError says what is wrong."""
    name, sep, command = text.partition("=")
    name, command = name.strip(), command.strip()
    if not sep or not name or not command:
        raise ValueError(f"--server-cmd must be NAME=COMMAND, got {text!r}")
    if any(c.isspace() for c in name):
        raise ValueError(f"--server-cmd name {name!r} has a space in it")
    if "{port}" not in command:
        raise ValueError(f"--server-cmd {name}: the command must contain {{port}} (where it listens), got {command!r}")
    try:
        shlex.split(command.replace("{port}", "0"))
    except ValueError as exc:
        raise ValueError(f"--server-cmd {name}: cannot split the command: {exc}") from None
    return name, command


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class CommandServer:
    """The same interface as server_process.ServerProcess (start, stop, alive, last_words, port, pid)."""

    def __init__(self, name: str, command: str, scenario: str, params: dict, cpus, host: str = "127.0.0.1",
                 ready_timeout_s: float = READY_TIMEOUT_S, backend: str | None = None):
        self.ready_timeout_s = ready_timeout_s
        self.name, self.command_text, self.scenario, self.params = name, command, scenario, params
        self.cpus = tuple(cpus) if cpus else None
        self.host = host
        self.port = free_port(host)
        argv = shlex.split(command.replace("{port}", str(self.port)).replace("{host}", host)
                           .replace("{backend}", backend or ""))
        self.command = ([sys.executable, "-c", PIN_SHIM.format(cpus=set(self.cpus))] + argv) if self.cpus else argv
        self.proc: subprocess.Popen | None = None
        self.pid = 0
        self.ready_fields: dict = {}
        self._output = tempfile.TemporaryFile()

    def last_words(self) -> str:
        self._output.seek(0)
        lines = self._output.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"

    def fail(self, cause: str) -> ServerFailed:
        return ServerFailed(f"external command {self.name!r} ({self.command_text}): {cause}")

    def start(self) -> "CommandServer":
        try:
            self.proc = subprocess.Popen(self.command, stdout=self._output, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise self.fail(f"does not start: {exc}") from None
        self.pid = self.proc.pid
        deadline = time.monotonic() + self.ready_timeout_s
        while not accepts(self.host, self.port):
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise self.fail(f"does not start: exited with {code} before serving: {self.last_words()}")
            if time.monotonic() > deadline:
                self.stop()
                raise self.fail(f"does not serve: nothing accepts on port {self.port} within "
                                f"{self.ready_timeout_s:g} s")
            time.sleep(CONNECT_POLL_S)
        problems = verify(self.scenario, self.params, self.port)
        if problems:
            self.stop()
            raise self.fail(f"answers wrongly: {'; '.join(problems)}")
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        try:                          # whatever the command left in its own session
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        self.proc = None


def verify(scenario: str, params: dict, port: int) -> list[str]:
    """The scenario's checks before any measurement: a short load with every reply verified, then the
    scenario's probes under the rules of a framework's own HTTP stack (any 4xx or a close for a malformed
    request; the rest exactly as for every runner)."""
    from concbench import registry
    from concbench.clients.loadgen import LoadPlan, run_load
    from concbench.results.measurement import loadgen_report
    from concbench.studies.verify import run_probes
    spec = registry.SCENARIOS[scenario]
    plan = LoadPlan("127.0.0.1", port, 2, warmup_s=0.05, duration_s=0.2, timeout_s=3.0)
    report = loadgen_report(run_load(plan, spec.client_workload(params)))
    if report["status"] != "ok":
        return [f"under load: {report['first_error'] or 'no reply'}"]
    try:
        return run_probes(port, spec.probes, own_http_stack=True)
    except OSError as exc:
        return [f"probe failed: {exc}"]
