"""asyncio (and uvloop): an asyncio.Protocol served by loop.create_server.

The uvloop runner runs the very same Protocol on uvloop's loop (options['loop'] == 'uvloop').
Streaming sessions get StreamProtocol (flow control by pause_writing/resume_writing), or with
options['flow'] == 'unbounded' (asyncio-unbounded, a labelled failure mode) UnboundedStreamProtocol.
Backend scenario: BackendCallingProtocol opens its own backend connection with loop.create_connection
at connect (client reads paused until it is up) and relays bytes between the two transports.
"""
from __future__ import annotations

import asyncio
import asyncio.selector_events

from concbench.fairness import BACKLOG, RECV_SIZE, configure_connection

from concbench.scenarios.base import is_streaming

from . import backend_address
from .aio import loop_factory, run_until_signalled

# Fairness: the selector transport reads max_size bytes per recv (256 KiB by default);
# bring it to the common receive size. uvloop sizes its own read buffer (see README).
asyncio.selector_events._SelectorSocketTransport.max_size = RECV_SIZE


class ScenarioProtocol(asyncio.Protocol):
    __slots__ = ("make_session", "transport", "session", "receive")

    def __init__(self, make_session):
        self.make_session = make_session

    def connection_made(self, transport):
        self.transport = transport
        configure_connection(transport.get_extra_info("socket"))
        self.session = self.make_session()
        self.receive = self.session.receive

    def data_received(self, data):
        reply = self.receive(data)
        if reply:
            self.transport.write(reply)
        if self.session.closing:
            self.transport.close()      # after the queued reply is flushed


class StreamProtocol(ScenarioProtocol):
    """Writes chunks while the transport accepts them; pause_writing (buffer above its high-water mark)
    stops the loop, resume_writing (drained below the low-water mark) continues it."""
    __slots__ = ("paused",)

    def connection_made(self, transport):
        super().connection_made(transport)
        self.paused = False

    def data_received(self, data):
        self.receive(data)
        if self.session.closing:
            self.transport.close()
        elif self.session.chunks is not None:
            self.transport.pause_reading()      # nothing more is read while streaming
            self.write_until_paused()

    def write_until_paused(self):
        chunks, write = self.session.chunks, self.transport.write
        while not self.paused:
            chunk = next(chunks, None)
            if chunk is None:
                self.session.chunks = None
                self.transport.close()          # after the queued bytes are flushed
                return
            write(chunk)                        # may call pause_writing() before it returns

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        if self.session.chunks is not None and not self.transport.is_closing():
            self.write_until_paused()

    def connection_lost(self, exc):
        self.paused = True                      # the reader went away: stop producing
        self.session.chunks = None


class UnboundedStreamProtocol(ScenarioProtocol):
    """The failure mode, on purpose: every chunk handed to transport.write at once, pause_writing ignored,
    so the whole payload waits in the transport's buffer (server memory) for a slow reader."""

    def data_received(self, data):
        self.receive(data)
        if self.session.closing:
            self.transport.close()
        elif self.session.chunks is not None:
            self.transport.pause_reading()
            for chunk in self.session.chunks:
                self.transport.write(chunk)
            self.session.chunks = None
            self.transport.close()


def protocol_class(make_session, options):
    if not is_streaming(make_session):
        return ScenarioProtocol
    return UnboundedStreamProtocol if options.get("flow") == "unbounded" else StreamProtocol


class BackendClientProtocol(asyncio.Protocol):
    """The backend side of one client connection: hands every byte to the client side."""
    __slots__ = ("front", "transport")

    def __init__(self, front: "BackendCallingProtocol"):
        self.front = front

    def connection_made(self, transport):
        self.transport = transport
        configure_connection(transport.get_extra_info("socket"))

    def data_received(self, data):
        self.front.backend_data(data)

    def connection_lost(self, exc):
        self.front.transport.close()


class BackendCallingProtocol(asyncio.Protocol):
    def __init__(self, make_session, backend_address):
        self.make_session = make_session
        self.backend_address = backend_address
        self.backend = None

    def connection_made(self, transport):
        self.transport = transport
        configure_connection(transport.get_extra_info("socket"))
        self.session = self.make_session()
        transport.pause_reading()                     # until the backend connection is up
        host, port = self.backend_address
        connecting = asyncio.ensure_future(
            asyncio.get_running_loop().create_connection(lambda: BackendClientProtocol(self), host, port))
        connecting.add_done_callback(self.backend_connected)

    def backend_connected(self, connecting):
        if connecting.cancelled() or connecting.exception() is not None:
            self.transport.abort()
            return
        self.backend = connecting.result()[0]
        if self.transport.is_closing():
            self.backend.close()
            return
        self.transport.resume_reading()
        request = self.session.take_backend_request()    # uvloop may have read before the pause took
        if request:
            self.backend.write(request)

    def data_received(self, data):
        session = self.session
        reply = session.receive(data)
        if reply:
            self.transport.write(reply)
        if self.backend is not None:
            request = session.take_backend_request()
            if request:
                self.backend.write(request)

    def backend_data(self, data):
        session = self.session
        try:
            reply = session.backend_received(data)
        except ValueError:
            self.transport.abort()
            self.backend.abort()
            return
        if reply:
            self.transport.write(reply)
            if session.closing:
                self.transport.close()
            request = session.take_backend_request()
            if request:
                self.backend.write(request)

    def connection_lost(self, exc):
        if self.backend is not None:
            self.backend.close()


def serve(listener, make_session, options, ready) -> None:
    async def start_server():
        loop = asyncio.get_running_loop()
        # backlog again: create_server calls listen() on the socket it is given (default 100)
        if options.get("backend"):
            address = backend_address(options)
            protocol_factory = lambda: BackendCallingProtocol(make_session, address)  # noqa: E731
        else:
            protocol = protocol_class(make_session, options)
            protocol_factory = lambda: protocol(make_session)  # noqa: E731
        server = await loop.create_server(protocol_factory, sock=listener, backlog=BACKLOG)
        return server.close

    run_until_signalled(start_server, ready, loop_factory(options))
