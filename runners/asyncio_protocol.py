"""asyncio (and asyncio-uvloop): an asyncio.Protocol served by loop.create_server.

The uvloop variant runs the very same Protocol on uvloop's loop (options['loop'] == 'uvloop').
"""
from __future__ import annotations

import asyncio
import asyncio.selector_events

from concbench.fairness import BACKLOG, RECV_SIZE, configure_connection

from .aio import run_until_signalled

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


def serve(listener, make_session, options, ready) -> None:
    loop_factory = None
    if options.get("loop") == "uvloop":
        import uvloop
        loop_factory = uvloop.new_event_loop

    async def start_server():
        loop = asyncio.get_running_loop()
        # backlog again: create_server calls listen() on the socket it is given (default 100)
        server = await loop.create_server(lambda: ScenarioProtocol(make_session), sock=listener, backlog=BACKLOG)
        return server.close

    run_until_signalled(start_server, ready, loop_factory)
