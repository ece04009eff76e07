"""anyio (on asyncio): anyio's SocketListener over the common listener, one task per connection with
SocketStream receive / send (send waits for the transport to drain: the backpressure).

anyio is the layer many libraries now write against; this runner measures what it costs over asyncio
itself (options['loop'] == 'uvloop' runs it on uvloop). SIGINT/SIGTERM cancel the task group.
Backend scenario: each connection opens its own backend stream with anyio.connect_tcp.
"""
from __future__ import annotations

import signal

import anyio
import anyio.abc

from concbench.fairness import RECV_SIZE, configure_connection
from concbench.scenarios.base import is_streaming

from . import backend_address

CLOSED = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


def raw_socket(stream):
    return stream.extra(anyio.abc.SocketAttribute.raw_socket)


async def handle(make_session, stream) -> None:
    configure_connection(raw_socket(stream))
    session = make_session()
    receive = session.receive
    async with stream:
        try:
            while True:
                reply = receive(await stream.receive(RECV_SIZE))
                if reply:
                    await stream.send(reply)
                if session.closing:
                    return
        except CLOSED:
            pass


async def handle_stream(make_session, stream) -> None:
    """Streaming sessions: read until the request is complete, then send each chunk."""
    configure_connection(raw_socket(stream))
    session = make_session()
    async with stream:
        try:
            while session.chunks is None and not session.closing:
                session.receive(await stream.receive(RECV_SIZE))
            if not session.closing:
                for chunk in session.chunks:
                    await stream.send(chunk)
        except CLOSED:
            pass


async def handle_with_backend(make_session, address, stream) -> None:
    configure_connection(raw_socket(stream))
    session = make_session()
    async with stream:
        try:
            async with await anyio.connect_tcp(*address) as backend:
                configure_connection(raw_socket(backend))
                while True:
                    reply = session.receive(await stream.receive(RECV_SIZE))
                    if reply:
                        await stream.send(reply)
                    while request := session.take_backend_request():
                        await backend.send(request)
                        reply = b""
                        while not reply:
                            reply = session.backend_received(await backend.receive(RECV_SIZE))
                        await stream.send(reply)
                    if session.closing:
                        return
        except (ValueError, *CLOSED):
            pass


def serve(listener, make_session, options, ready) -> None:
    if options.get("backend"):
        address = backend_address(options)
        handler = lambda stream: handle_with_backend(make_session, address, stream)  # noqa: E731
    elif is_streaming(make_session):
        handler = lambda stream: handle_stream(make_session, stream)  # noqa: E731
    else:
        handler = lambda stream: handle(make_session, stream)  # noqa: E731

    async def main():
        server = await anyio.abc.SocketListener.from_socket(listener)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with anyio.create_task_group() as group:
                group.start_soon(server.serve, handler)
                ready()
                async for _ in signals:
                    group.cancel_scope.cancel()
                    break

    backend_options = {"use_uvloop": True} if options.get("loop") == "uvloop" else {}
    anyio.run(main, backend="asyncio", backend_options=backend_options)
