"""Any command as a server (`concbench run --server-cmd 'NAME=COMMAND with {port}'`): start it fresh, pinned,
wait until it accepts, verify it against the scenario's rules, then hand it to the measurement like a runner
({host} is 127.0.0.1; {backend}, HOST:PORT of the backend service for a scenario that needs one).

It owns the command's lifetime (its own session, stopped by SIGTERM then SIGKILL of that group only) and the
one-line reasons a command fails: does not start, does not serve, answers wrongly. Labelled external in results.
"""
from __future__ import annotations

import shlex
import socket
import time

from concbench.harness.child import READY_TIMEOUT_S, Child
from concbench.harness.server_process import STOP_TIMEOUT_S, ServerFailed

CONNECT_POLL_S = 0.05


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


class CommandServer(Child):
    """The same interface as server_process.ServerProcess (start, stop, alive, last_words, death, port, pid). It is
    ready once it accepts a connection and `check(port)` finds no problem (the scenario's checks, from the study)."""

    failure = ServerFailed
    stop_grace_s = STOP_TIMEOUT_S
    speaks_protocol = False

    def __init__(self, name: str, command: str, scenario: str, params: dict, cpus, host: str = "127.0.0.1",
                 ready_timeout_s: float = READY_TIMEOUT_S, backend: str | None = None, check=None):
        self.ready_timeout_s = ready_timeout_s
        self.name, self.command_text, self.scenario, self.params = name, command, scenario, params
        self.what = f"external command {name!r} ({command}):"
        self.host = host
        self.port = free_port(host)
        self.check = check or (lambda port: [])
        argv = shlex.split(command.replace("{port}", str(self.port)).replace("{host}", host)
                           .replace("{backend}", backend or ""))
        super().__init__(argv, cpus=cpus)

    def start(self) -> "CommandServer":
        return super().start(self.ready_timeout_s)

    def wait_ready(self, timeout_s: float) -> None:
        """Until it accepts on its port (it prints no ready line), then the check."""
        deadline = time.monotonic() + timeout_s
        while not accepts(self.host, self.port):
            if not self.alive():
                raise self.failed(f"does not start: {self.death()} before serving: {self.last_words()}")
            if time.monotonic() > deadline:
                raise self.failed(f"does not serve: nothing accepts on port {self.port} within {timeout_s:g} s")
            time.sleep(CONNECT_POLL_S)
        problems = self.check(self.port)
        if problems:
            raise self.failed(f"answers wrongly: {'; '.join(problems)}")
