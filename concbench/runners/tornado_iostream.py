"""tornado: a tornado.tcpserver.TCPServer whose handle_stream coroutine reads and awaits writes on an IOStream.

Written as Tornado's own TCPServer documentation example, with the scenario session in the middle.
Streaming sessions: `await stream.write(chunk)` per chunk (the future resolves once the chunk is flushed).
Backend scenario: each connection opens its own backend IOStream with tornado.tcpclient.TCPClient.
"""
from __future__ import annotations

from tornado.iostream import StreamClosedError
from tornado.tcpclient import TCPClient
from tornado.tcpserver import TCPServer

from concbench.fairness import RECV_SIZE

from concbench.scenarios.base import is_streaming

from . import backend_address
from .aio import loop_factory, run_until_signalled

BACKEND_CONNECT_TIMEOUT_S = 5.0


class ScenarioServer(TCPServer):
    def __init__(self, make_session):
        super().__init__(read_chunk_size=RECV_SIZE)
        self.make_session = make_session

    async def handle_stream(self, stream, address):
        stream.set_nodelay(True)       # the fairness rule, via Tornado's own API
        session = self.make_session()
        receive = session.receive
        try:
            while True:
                data = await stream.read_bytes(RECV_SIZE, partial=True)
                reply = receive(data)
                if reply:
                    await stream.write(reply)
                if session.closing:
                    stream.close()
                    return
        except StreamClosedError:
            pass


class StreamingServer(ScenarioServer):
    """For streaming sessions: read until the request is complete, then await each chunk's write."""

    async def handle_stream(self, stream, address):
        stream.set_nodelay(True)
        session = self.make_session()
        try:
            while session.chunks is None and not session.closing:
                session.receive(await stream.read_bytes(RECV_SIZE, partial=True))
            if not session.closing:
                for chunk in session.chunks:
                    await stream.write(chunk)
            stream.close()
        except StreamClosedError:
            pass


class BackendCallingServer(ScenarioServer):
    def __init__(self, make_session, backend):
        super().__init__(make_session)
        self.backend = backend
        self.client = TCPClient()

    async def handle_stream(self, stream, address):
        stream.set_nodelay(True)
        session = self.make_session()
        backend = None
        try:
            backend = await self.client.connect(*self.backend, timeout=BACKEND_CONNECT_TIMEOUT_S)
            backend.set_nodelay(True)
            while True:
                data = await stream.read_bytes(RECV_SIZE, partial=True)
                reply = session.receive(data)
                if reply:
                    await stream.write(reply)
                while request := session.take_backend_request():
                    await backend.write(request)
                    reply = b""
                    while not reply:
                        reply = session.backend_received(await backend.read_bytes(RECV_SIZE, partial=True))
                    await stream.write(reply)
                if session.closing:
                    return
        except (StreamClosedError, OSError, ValueError):
            pass
        finally:
            stream.close()
            if backend is not None:
                backend.close()


def serve(listener, make_session, options, ready) -> None:
    async def start_server():
        if options.get("backend"):
            server = BackendCallingServer(make_session, backend_address(options))
        else:
            server = (StreamingServer if is_streaming(make_session) else ScenarioServer)(make_session)
        listener.setblocking(False)  # as tornado.netutil.bind_sockets leaves its sockets
        server.add_sockets([listener])
        return server.stop

    run_until_signalled(start_server, ready, loop_factory(options))
