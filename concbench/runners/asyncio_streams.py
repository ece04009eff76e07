"""asyncio-streams: asyncio.start_server with StreamReader/StreamWriter, one coroutine per connection.

A labelled variant of the asyncio runner: same loop, the high-level streams API. Streaming sessions:
write + await drain() per chunk (drain waits while the transport's buffer is above its high-water mark).
Backend scenario: each connection opens its own backend stream with asyncio.open_connection and awaits
every call in line.
"""
from __future__ import annotations

import asyncio

from concbench.fairness import BACKLOG, RECV_SIZE, configure_connection

from concbench.scenarios.base import is_streaming

from . import backend_address
from .aio import loop_factory, run_until_signalled


async def handle_stream(make_session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """For streaming sessions: read until the request is complete, then write + drain each chunk."""
    configure_connection(writer.get_extra_info("socket"))
    session = make_session()
    try:
        while session.chunks is None and not session.closing:
            data = await reader.read(RECV_SIZE)
            if not data:
                return
            session.receive(data)
        if not session.closing:
            for chunk in session.chunks:
                writer.write(chunk)
                await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


def serve(listener, make_session, options, ready) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        configure_connection(writer.get_extra_info("socket"))
        session = make_session()
        receive = session.receive
        try:
            while True:
                data = await reader.read(RECV_SIZE)
                if not data:
                    break
                reply = receive(data)
                if reply:
                    writer.write(reply)
                    await writer.drain()
                if session.closing:
                    break
        except OSError:
            pass
        finally:
            writer.close()

    async def handle_with_backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        configure_connection(writer.get_extra_info("socket"))
        session = make_session()
        backend_writer = None
        try:
            backend_reader, backend_writer = await asyncio.open_connection(*backend_address(options))
            configure_connection(backend_writer.get_extra_info("socket"))
            while True:
                data = await reader.read(RECV_SIZE)
                if not data:
                    break
                reply = session.receive(data)
                if reply:
                    writer.write(reply)
                while request := session.take_backend_request():
                    backend_writer.write(request)
                    reply = b""
                    while not reply:
                        chunk = await backend_reader.read(RECV_SIZE)
                        if not chunk:
                            raise ConnectionResetError("the backend closed the connection")
                        reply = session.backend_received(chunk)
                    writer.write(reply)
                await writer.drain()
                if session.closing:
                    break
        except (OSError, ValueError):
            pass
        finally:
            writer.close()
            if backend_writer is not None:
                backend_writer.close()

    async def start_server():
        # backlog again: start_server calls listen() on the socket it is given (default 100)
        if options.get("backend"):
            server = await asyncio.start_server(handle_with_backend, sock=listener, backlog=BACKLOG)
        elif is_streaming(make_session):
            server = await asyncio.start_server(lambda r, w: handle_stream(make_session, r, w), sock=listener,
                                                backlog=BACKLOG)
        else:
            server = await asyncio.start_server(handle, sock=listener, backlog=BACKLOG)
        return server.close

    run_until_signalled(start_server, ready, loop_factory(options))
