"""Probe-style asyncio echo server: the asyncio docs' EchoServerProtocol (self.transport stored,
data_received -> transport.write), minus its prints and its close after one echo.

    python crosscheck/servers/echo_asyncio.py [--uvloop]      prints `PORT NNN`, serves until SIGTERM

One-thing-at-a-time changes for crosscheck experiments, by CROSSCHECK_VARIANT (comma-separated; none by default):
  slots       the protocol class gets __slots__ = ("transport",)
  session     connection_made also makes a session object and keeps a bound method, as concbench's runner does
  maxsize=N   asyncio.selector_events._SelectorSocketTransport.max_size = N (concbench sets 65536; default 262144)
  backlog=N   create_server(backlog=N) (concbench: 2048; asyncio default 100)
  nodelay     setsockopt(TCP_NODELAY) again per connection, as concbench's configure_connection does
"""
import asyncio
import asyncio.selector_events
import os
import resource
import socket
import sys

import tracehook

VARIANT = dict(item.partition("=")[::2] for item in os.environ.get("CROSSCHECK_VARIANT", "").split(",") if item)


class EchoServerProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class SlotsProtocol(asyncio.Protocol):
    __slots__ = ("transport",)

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class Session:
    __slots__ = ()

    def receive(self, data):
        return data


class SessionProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.session = Session()
        self.receive = self.session.receive

    def data_received(self, data):
        self.transport.write(self.receive(data))


class NodelayProtocol(EchoServerProtocol):
    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def main():
    loop = asyncio.get_running_loop()
    tracehook.install(loop)
    protocol = (SlotsProtocol if "slots" in VARIANT else SessionProtocol if "session" in VARIANT
                else NodelayProtocol if "nodelay" in VARIANT else EchoServerProtocol)
    if "maxsize" in VARIANT:
        asyncio.selector_events._SelectorSocketTransport.max_size = int(VARIANT["maxsize"])
    server = await loop.create_server(protocol, "127.0.0.1", 0, backlog=int(VARIANT.get("backlog", 100)))
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.install()
    asyncio.run(main())
