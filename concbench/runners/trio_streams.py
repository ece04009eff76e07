"""trio: trio.serve_tcp over the common listener, one task per connection with SocketStream
receive_some / send_all (send_all waits while the socket's send buffer is full: the backpressure).

Written as trio's own echo-server tutorial, the scenario session in the middle. SIGINT/SIGTERM cancel
the nursery. Backend scenario: each connection opens its own backend stream with trio.open_tcp_stream.
"""
from __future__ import annotations

import signal

import trio

from concbench.fairness import RECV_SIZE, configure_connection
from concbench.scenarios.base import is_streaming

from . import backend_address


async def handle(make_session, stream: trio.SocketStream) -> None:
    configure_connection(stream.socket)
    session = make_session()
    receive = session.receive
    try:
        async with stream:
            while True:
                data = await stream.receive_some(RECV_SIZE)
                if not data:
                    return
                reply = receive(data)
                if reply:
                    await stream.send_all(reply)
                if session.closing:
                    return
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def handle_stream(make_session, stream: trio.SocketStream) -> None:
    """Streaming sessions: read until the request is complete, then send_all each chunk."""
    configure_connection(stream.socket)
    session = make_session()
    try:
        async with stream:
            while session.chunks is None and not session.closing:
                data = await stream.receive_some(RECV_SIZE)
                if not data:
                    return
                session.receive(data)
            if not session.closing:
                for chunk in session.chunks:
                    await stream.send_all(chunk)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def handle_with_backend(make_session, address, stream: trio.SocketStream) -> None:
    configure_connection(stream.socket)
    session = make_session()
    try:
        async with stream, await trio.open_tcp_stream(*address) as backend:
            configure_connection(backend.socket)
            while True:
                data = await stream.receive_some(RECV_SIZE)
                if not data:
                    return
                reply = session.receive(data)
                if reply:
                    await stream.send_all(reply)
                while request := session.take_backend_request():
                    await backend.send_all(request)
                    reply = b""
                    while not reply:
                        chunk = await backend.receive_some(RECV_SIZE)
                        if not chunk:
                            raise trio.BrokenResourceError("the backend closed the connection")
                        reply = session.backend_received(chunk)
                    await stream.send_all(reply)
                if session.closing:
                    return
    except (OSError, ValueError, trio.BrokenResourceError, trio.ClosedResourceError):
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
        listeners = [trio.SocketListener(trio.socket.from_stdlib_socket(listener))]
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(trio.serve_listeners, handler, listeners)
                ready()
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break

    trio.run(main)
