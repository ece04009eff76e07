"""curio: curio.network.run_server over the common listener, one task per connection with curio's
socket recv / sendall (sendall waits while the send buffer is full: the backpressure).

Curio is no longer developed upstream (1.6 is its last release; `concbench list` says so); it is here
because the talk named it. SIGINT/SIGTERM end the kernel (the handler raises KeyboardInterrupt, which
curio.run propagates). Backend scenario: each connection opens its own backend socket with
curio.open_connection.
"""
from __future__ import annotations

import signal

import curio
import curio.io
import curio.network

from concbench.fairness import RECV_SIZE, configure_connection
from concbench.scenarios.base import is_streaming

from . import backend_address


async def handle(make_session, client, address) -> None:
    configure_connection(client._socket)
    session = make_session()
    receive = session.receive
    try:
        while True:
            data = await client.recv(RECV_SIZE)
            if not data:
                return
            reply = receive(data)
            if reply:
                await client.sendall(reply)
            if session.closing:
                return
    except OSError:
        pass


async def handle_stream(make_session, client, address) -> None:
    """Streaming sessions: read until the request is complete, then sendall each chunk."""
    configure_connection(client._socket)
    session = make_session()
    try:
        while session.chunks is None and not session.closing:
            data = await client.recv(RECV_SIZE)
            if not data:
                return
            session.receive(data)
        if not session.closing:
            for chunk in session.chunks:
                await client.sendall(chunk)
    except OSError:
        pass


async def handle_with_backend(make_session, backend_at, client, address) -> None:
    configure_connection(client._socket)
    session = make_session()
    try:
        async with await curio.open_connection(*backend_at) as backend:
            configure_connection(backend._socket)
            while True:
                data = await client.recv(RECV_SIZE)
                if not data:
                    return
                reply = session.receive(data)
                if reply:
                    await client.sendall(reply)
                while request := session.take_backend_request():
                    await backend.sendall(request)
                    reply = b""
                    while not reply:
                        chunk = await backend.recv(RECV_SIZE)
                        if not chunk:
                            raise ConnectionResetError("the backend closed the connection")
                        reply = session.backend_received(chunk)
                    await client.sendall(reply)
                if session.closing:
                    return
    except (OSError, ValueError):
        pass


def _stop(signum, frame):
    raise KeyboardInterrupt


def serve(listener, make_session, options, ready) -> None:
    if options.get("backend"):
        address = backend_address(options)
        handler = lambda client, peer: handle_with_backend(make_session, address, client, peer)  # noqa: E731
    elif is_streaming(make_session):
        handler = lambda client, peer: handle_stream(make_session, client, peer)  # noqa: E731
    else:
        handler = lambda client, peer: handle(make_session, client, peer)  # noqa: E731

    async def main():
        ready()
        await curio.network.run_server(curio.io.Socket(listener), handler)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    try:
        curio.run(main)
    except KeyboardInterrupt:
        pass
