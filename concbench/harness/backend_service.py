"""The backend service of the backend scenario, and the harness handle that starts and stops it.

The service (uvloop) answers each framed request after the delay it carries (loop.call_later, so
thousands wait at once) and counts the calls it answered; wire format in concbench/scenarios/backend.py.
BackendProcess is one service as a concbench.harness.child: its address from the ready line, its count at the stop.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys

from concbench.scenarios.backend import BackendProtocolError, encode_backend_reply, parse_backend_request

from concbench.fairness import BACKLOG, configure_connection, listen_socket, pin_to_cpus, raise_open_file_limit
from concbench.harness import protocol
from concbench.harness.child import Child, ChildFailed

STOPPED = "stopped"           # its last event: {"event": "stopped", "calls": ..., "bad_requests": ...}
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
        protocol.emit(protocol.READY, host=host, port=bound_port, pid=os.getpid())

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(service.serve(host, port, on_ready))
    protocol.emit(STOPPED, calls=service.calls, bad_requests=service.bad_requests)
    return 0


class BackendFailed(ChildFailed):
    """The backend service did not start or did not report its count."""


class BackendProcess(Child):
    """One `concbench backend-service` child: started, then stopped by its own pid, never anything else.
    own_session=False keeps it in its parent's process group (a `concbench serve` that started its own)."""

    what = "backend service"
    failure = BackendFailed
    stop_grace_s = STOP_TIMEOUT_S

    def __init__(self, cpus=None, host: str = "127.0.0.1", own_session: bool = True):
        command = [sys.executable, "-m", "concbench", "backend-service", "--port", "0", "--host", host]
        if cpus:
            command += ["--cpus", ",".join(map(str, cpus))]
        super().__init__(command, owns_group=own_session)
        self.host = host
        self.port = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def check_ready(self, fields: dict) -> str | None:
        return None if isinstance(fields.get("port"), int) else "no port"

    def start(self) -> "BackendProcess":
        super().start()
        self.port = self.ready_fields["port"]
        return self

    def stop(self) -> int | None:
        """Stop the service; returns the calls it answered (None if it could not say)."""
        if self.proc is None:
            return None
        super().stop()
        calls = None
        for event in self.events_left():
            if event[protocol.EVENT] == STOPPED:
                calls = int(event["calls"])
        return calls
