"""twisted-inline: Twisted in synchronous style, beside the callback Protocol: one `async def` handler per
connection driven by Deferred.fromCoroutine, awaiting Deferreds for reads (and for drained writes).

A thin Protocol (Connection) turns dataReceived into awaitable reads (one read buffered at most: the transport
is paused until the handler takes it) and, for streaming sessions, registers as a push producer so that
`await conn.drain()` waits while the transport's buffer is full. Runs on the epoll reactor (options['loop']
as in concbench/runners/twisted_reactor.py). Backend scenario: each connection opens its own backend connection with
`await connectProtocol(...)` and awaits every call in line.
"""
from __future__ import annotations

from twisted.internet import defer, interfaces, protocol, tcp
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from zope.interface import implementer

from concbench.fairness import RECV_SIZE
from concbench.scenarios.base import is_streaming

from . import backend_address, twisted_reactor

BACKEND_CONNECT_TIMEOUT_S = 5

tcp.Connection.bufferSize = RECV_SIZE


@implementer(interfaces.IPushProducer)
class Connection(protocol.Protocol):
    """Awaitable reads and drains over one transport."""

    def __init__(self):
        self.reads = defer.DeferredQueue()
        self.reading_paused = False
        self.writing_paused = False
        self.drained = None

    def connectionMade(self):
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.reads.put(data)                    # a waiting handler takes it (and runs) right here
        if self.reads.pending and not self.reading_paused:
            self.reading_paused = True
            self.transport.pauseProducing()     # until the handler has taken this read

    def connectionLost(self, reason):
        self.reads.put(b"")
        self.resumeProducing()                  # a drain waiting on a dead connection returns

    def read(self) -> defer.Deferred:
        if self.reading_paused and not self.reads.pending:
            self.reading_paused = False
            self.transport.resumeProducing()
        return self.reads.get()

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def close(self) -> None:
        self.transport.loseConnection()

    # the producer side, registered for streaming sessions only
    def pauseProducing(self):
        self.writing_paused = True

    def resumeProducing(self):
        self.writing_paused = False
        drained, self.drained = self.drained, None
        if drained is not None:
            drained.callback(None)

    def stopProducing(self):
        self.resumeProducing()

    async def drain(self):
        if self.writing_paused:
            self.drained = defer.Deferred()
            await self.drained


async def handle(conn: Connection, make_session) -> None:
    session = make_session()
    receive = session.receive
    while True:
        data = await conn.read()
        if not data:
            return
        reply = receive(data)
        if reply:
            conn.write(reply)
        if session.closing:
            conn.close()
            return


async def handle_stream(conn: Connection, make_session) -> None:
    session = make_session()
    while session.chunks is None and not session.closing:
        data = await conn.read()
        if not data:
            return
        session.receive(data)
    if not session.closing:
        conn.transport.registerProducer(conn, True)
        for chunk in session.chunks:
            if not conn.transport.connected:
                break
            conn.write(chunk)
            await conn.drain()
        conn.transport.unregisterProducer()
    conn.close()


async def handle_with_backend(conn: Connection, make_session, endpoint) -> None:
    session = make_session()
    backend = await connectProtocol(endpoint, Connection())
    try:
        while True:
            data = await conn.read()
            if not data:
                return
            reply = session.receive(data)
            if reply:
                conn.write(reply)
            while request := session.take_backend_request():
                backend.write(request)
                reply = b""
                while not reply:
                    chunk = await backend.read()
                    if not chunk:
                        raise ConnectionResetError("the backend closed the connection")
                    reply = session.backend_received(chunk)
                conn.write(reply)
            if session.closing:
                return
    finally:
        backend.close()
        conn.close()


def serve(listener, make_session, options, ready) -> None:
    twisted_reactor.install(options)
    from twisted.internet import reactor
    if options.get("backend"):
        host, port = backend_address(options)
        endpoint = TCP4ClientEndpoint(reactor, host, port, timeout=BACKEND_CONNECT_TIMEOUT_S)
        handler = lambda conn: handle_with_backend(conn, make_session, endpoint)  # noqa: E731
    elif is_streaming(make_session):
        handler = lambda conn: handle_stream(conn, make_session)  # noqa: E731
    else:
        handler = lambda conn: handle(conn, make_session)  # noqa: E731

    class Started(Connection):
        def connectionMade(self):
            super().connectionMade()
            done = defer.Deferred.fromCoroutine(handler(self))
            done.addErrback(lambda failure: self.transport.abortConnection())

    factory = protocol.Factory.forProtocol(Started)
    factory.noisy = False
    listener.setblocking(False)
    reactor.adoptStreamPort(listener.fileno(), listener.family, factory)
    listener.close()
    reactor.callWhenRunning(ready)
    reactor.run()
