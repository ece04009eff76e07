"""twisted: a twisted.internet.protocol.Protocol on the epoll reactor (twisted-asyncio, twisted-uvloop: the
same Protocol on twisted.internet.asyncioreactor over asyncio's selector loop or uvloop, options['loop']).

The reactor (installed in serve, concbench/runners/twisted_reactor.py) adopts the common listener; the reactor's own
SIGINT/SIGTERM handling stops it.
Streaming sessions: StreamProtocol registers itself as a streaming (push) producer on the transport,
which calls pauseProducing/resumeProducing around its write buffer; with options['flow'] == 'unbounded'
(twisted-unbounded, a labelled failure mode) UnboundedStreamProtocol writes everything at once.
Backend scenario: each connection opens its own backend connection with a TCP4ClientEndpoint and
connectProtocol at connect (the client side paused until it is up) and relays bytes between the two.
"""
from __future__ import annotations

from twisted.internet import interfaces, protocol, tcp
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from zope.interface import implementer

from concbench.fairness import RECV_SIZE
from concbench.scenarios.base import is_streaming

from . import backend_address, twisted_reactor

BACKEND_CONNECT_TIMEOUT_S = 5

tcp.Connection.bufferSize = RECV_SIZE   # bytes per recv(); Twisted's default is already 64 KiB


class ScenarioProtocol(protocol.Protocol):
    def connectionMade(self):
        self.transport.setTcpNoDelay(True)     # the fairness rule, via Twisted's own API
        self.session = self.factory.make_session()
        self.receive = self.session.receive

    def dataReceived(self, data):
        reply = self.receive(data)
        if reply:
            self.transport.write(reply)
        if self.session.closing:
            self.transport.loseConnection()     # after the queued reply is written


@implementer(interfaces.IPushProducer)
class StreamProtocol(ScenarioProtocol):
    """Producer and consumer: once the request is in, register as a push producer and write chunks until
    the transport calls pauseProducing (its buffer is over bufferSize); resumeProducing continues."""
    paused = False

    def dataReceived(self, data):
        self.receive(data)
        if self.session.closing:
            self.transport.loseConnection()
        elif self.session.chunks is not None and not self.paused:
            self.transport.pauseProducing()          # stop reading: nothing more is expected
            self.transport.registerProducer(self, True)
            self.resumeProducing()

    def resumeProducing(self):
        self.paused = False
        chunks, write = self.session.chunks, self.transport.write
        while not self.paused and chunks is not None:
            chunk = next(chunks, None)
            if chunk is None:
                self.session.chunks = None
                self.transport.unregisterProducer()
                self.transport.loseConnection()      # after the buffered bytes are written
                return
            write(chunk)                             # may call pauseProducing() before it returns

    def pauseProducing(self):
        self.paused = True

    def stopProducing(self):                         # the connection is gone
        self.paused = True
        self.session.chunks = None


class UnboundedStreamProtocol(ScenarioProtocol):
    """The failure mode, on purpose: every chunk written at once with no producer, so the whole payload
    waits in the transport's buffer (server memory) for a slow reader."""

    def dataReceived(self, data):
        self.receive(data)
        if self.session.closing:
            self.transport.loseConnection()
        elif self.session.chunks is not None:
            self.transport.pauseProducing()
            for chunk in self.session.chunks:
                self.transport.write(chunk)
            self.session.chunks = None
            self.transport.loseConnection()


class ScenarioFactory(protocol.Factory):
    protocol = ScenarioProtocol
    noisy = False

    def __init__(self, make_session, options=None):
        self.make_session = make_session
        if is_streaming(make_session):
            unbounded = (options or {}).get("flow") == "unbounded"
            self.protocol = UnboundedStreamProtocol if unbounded else StreamProtocol


class BackendClient(protocol.Protocol):
    """The backend side of one client connection: hands every byte to the client side."""

    def __init__(self, front):
        self.front = front

    def connectionMade(self):
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.front.backendData(data)

    def connectionLost(self, reason):
        self.front.transport.loseConnection()


class BackendCallingProtocol(protocol.Protocol):
    backend = None

    def connectionMade(self):
        self.transport.setTcpNoDelay(True)
        self.session = self.factory.make_session()
        self.transport.pauseProducing()               # until the backend connection is up
        connecting = connectProtocol(self.factory.backend_endpoint, BackendClient(self))
        connecting.addCallbacks(self.backendConnected, lambda failure: self.transport.abortConnection())

    def backendConnected(self, backend):
        self.backend = backend
        if self.transport.disconnecting or not self.transport.connected:
            backend.transport.loseConnection()
            return
        self.transport.resumeProducing()
        request = self.session.take_backend_request()     # in case bytes came before the pause took
        if request:
            backend.transport.write(request)

    def dataReceived(self, data):
        session = self.session
        reply = session.receive(data)
        if reply:
            self.transport.write(reply)
        if self.backend is not None:
            request = session.take_backend_request()
            if request:
                self.backend.transport.write(request)

    def backendData(self, data):
        session = self.session
        try:
            reply = session.backend_received(data)
        except ValueError:
            self.transport.abortConnection()
            self.backend.transport.abortConnection()
            return
        if reply:
            self.transport.write(reply)
            if session.closing:
                self.transport.loseConnection()
            request = session.take_backend_request()
            if request:
                self.backend.transport.write(request)

    def connectionLost(self, reason):
        if self.backend is not None:
            self.backend.transport.loseConnection()


class BackendCallingFactory(ScenarioFactory):
    protocol = BackendCallingProtocol

    def __init__(self, make_session, backend):
        super().__init__(make_session)
        host, port = backend
        from twisted.internet import reactor
        self.backend_endpoint = TCP4ClientEndpoint(reactor, host, port, timeout=BACKEND_CONNECT_TIMEOUT_S)


def serve(listener, make_session, options, ready) -> None:
    twisted_reactor.install(options)
    from twisted.internet import reactor
    listener.setblocking(False)      # adoptStreamPort requires a non-blocking descriptor
    if options.get("backend"):
        factory = BackendCallingFactory(make_session, backend_address(options))
    else:
        factory = ScenarioFactory(make_session, options)
    reactor.adoptStreamPort(listener.fileno(), listener.family, factory)
    listener.close()                 # the reactor holds its own duplicate of the descriptor
    reactor.callWhenRunning(ready)
    reactor.run()
