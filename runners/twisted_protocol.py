"""twisted: a twisted.internet.protocol.Protocol on the epoll reactor.

The reactor adopts the common listener; the reactor's own SIGINT/SIGTERM handling stops it.
Streaming sessions: StreamProtocol registers itself as a streaming (push) producer on the transport,
which calls pauseProducing/resumeProducing around its write buffer; with options['flow'] == 'unbounded'
(twisted-unbounded, a labelled failure mode) UnboundedStreamProtocol writes everything at once.
"""
from __future__ import annotations

import sys

from twisted.internet import epollreactor

if "twisted.internet.reactor" not in sys.modules:    # one reactor per process (tests import both runners)
    epollreactor.install()

from twisted.internet import interfaces, protocol, reactor, tcp  # noqa: E402  (after the reactor is installed)
from zope.interface import implementer  # noqa: E402

from concbench.fairness import RECV_SIZE  # noqa: E402
from scenarios.base import is_streaming  # noqa: E402

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


def serve(listener, make_session, options, ready) -> None:
    listener.setblocking(False)      # adoptStreamPort requires a non-blocking descriptor
    reactor.adoptStreamPort(listener.fileno(), listener.family, ScenarioFactory(make_session, options))
    listener.close()                 # the reactor holds its own duplicate of the descriptor
    reactor.callWhenRunning(ready)
    reactor.run()
