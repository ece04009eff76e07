"""The backend service of the backend scenario, and the harness handle that starts and stops it.

The service (uvloop) answers each framed request after the delay it carries (loop.call_later, so
thousands wait at once) and counts the calls it answered; wire format in concbench/scenarios/backend.py.
BackendProcess owns one service's lifetime: start, ready line (bounded), stop by its pid, the count.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time

from concbench.scenarios.backend import BackendProtocolError, encode_backend_reply, parse_backend_request

from concbench.fairness import BACKLOG, configure_connection, listen_socket, pin_to_cpus, raise_open_file_limit
from concbench.harness.serve import complete_lines

READY_PREFIX = "concbench backend-service: ready"
STOPPED_PREFIX = "concbench backend-service: stopped"
READY_TIMEOUT_S = 30.0        # as long as the harness waits for a server (server_process.READY_TIMEOUT_S)
STOP_TIMEOUT_S = 5.0
PARENT_CHECK_S = 1.0          # the service exits when the process that started it is gone


class BackendProtocol(asyncio.Protocol):
    """One server connection: parse requests, answer each after its delay."""

    def __init__(self, service: "BackendService"):
        self.service = service
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        configure_connection(transport.get_extra_info("socket"))

    def data_received(self, data):
        buffer = self.buffer + data if self.buffer else data
        call_later = self.service.loop.call_later
        try:
            while (parsed := parse_backend_request(buffer)) is not None:
                delay_ms, payload, used = parsed
                buffer = buffer[used:]
                call_later(delay_ms / 1000.0, self.answer, encode_backend_reply(payload))
        except BackendProtocolError:
            self.service.bad_requests += 1
            self.transport.abort()
            return
        self.buffer = buffer

    def answer(self, reply: bytes):
        if not self.transport.is_closing():
            self.transport.write(reply)
            self.service.calls += 1


class BackendService:
    def __init__(self):
        self.calls = 0                 # requests answered
        self.bad_requests = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, host: str, port: int, on_ready) -> None:
        self.loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.loop.add_signal_handler(signum, stop.set)
        listener = listen_socket(host, port)
        server = await self.loop.create_server(lambda: BackendProtocol(self), sock=listener, backlog=BACKLOG)
        on_ready(listener.getsockname()[1])
        parent = os.getppid()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), PARENT_CHECK_S)
            except asyncio.TimeoutError:
                if os.getppid() != parent:          # orphaned: nobody will stop us, so stop
                    break
        server.close()


def run_service(host: str, port: int, cpus) -> int:
    """`concbench backend-service`: serve until SIGINT/SIGTERM, then print the call count."""
    import uvloop
    pin_to_cpus(cpus)
    raise_open_file_limit()
    service = BackendService()

    def on_ready(bound_port):
        print(f"{READY_PREFIX} address={host}:{bound_port} pid={os.getpid()}", flush=True)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(service.serve(host, port, on_ready))
    print(f"{STOPPED_PREFIX} calls={service.calls} bad_requests={service.bad_requests}", flush=True)
    return 0


def parse_fields(line: str, prefix: str) -> dict | None:
    if not line.startswith(prefix):
        return None
    return dict(part.split("=", 1) for part in line[len(prefix):].split())


class BackendFailed(Exception):
    """The backend service did not start or did not report its count."""


class BackendProcess:
    """One `concbench backend-service` child: started, then stopped by its own pid, never anything else."""

    def __init__(self, cpus=None, host: str = "127.0.0.1"):
        self.command = [sys.executable, "-m", "concbench", "backend-service", "--port", "0", "--host", host]
        if cpus:
            self.command += ["--cpus", ",".join(map(str, cpus))]
        self.host = host
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._stdout = tempfile.TemporaryFile()
        self._stderr = tempfile.TemporaryFile()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _output(self, stream) -> str:
        stream.seek(0)
        return stream.read().decode(errors="replace")

    def start(self) -> "BackendProcess":
        from concbench.harness import lifecycle
        self.proc = lifecycle.spawn(self.command, owns_group=False, stdout=self._stdout, stderr=self._stderr,
                                    stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            for line in complete_lines(self._output(self._stdout)):
                fields = parse_fields(line, READY_PREFIX)
                if fields:
                    self.port = int(fields["address"].rpartition(":")[2])
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        last = self._output(self._stderr).strip().splitlines()
        self.stop()
        raise BackendFailed(f"backend service not ready within {READY_TIMEOUT_S:g} s: "
                            f"{last[-1] if last else 'no output'}")

    def stop(self) -> int | None:
        """Stop the service; returns the calls it answered (None if it could not say)."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        from concbench.harness import lifecycle
        lifecycle.untrack(proc)
        self.proc = None
        calls = None
        for line in self._output(self._stdout).splitlines():
            fields = parse_fields(line, STOPPED_PREFIX)
            if fields:
                calls = int(fields["calls"])
        self._stdout.close()
        self._stderr.close()
        return calls

