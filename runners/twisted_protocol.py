"""twisted: a twisted.internet.protocol.Protocol on the epoll reactor.

The reactor adopts the common listener; the reactor's own SIGINT/SIGTERM handling stops it.
"""
from __future__ import annotations

import sys

from twisted.internet import epollreactor

if "twisted.internet.reactor" not in sys.modules:    # one reactor per process (tests import both runners)
    epollreactor.install()

from twisted.internet import protocol, reactor, tcp  # noqa: E402  (after the reactor is installed)

from concbench.fairness import RECV_SIZE  # noqa: E402

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


class ScenarioFactory(protocol.Factory):
    protocol = ScenarioProtocol
    noisy = False

    def __init__(self, make_session):
        self.make_session = make_session


def serve(listener, make_session, options, ready) -> None:
    listener.setblocking(False)      # adoptStreamPort requires a non-blocking descriptor
    reactor.adoptStreamPort(listener.fileno(), listener.family, ScenarioFactory(make_session))
    listener.close()                 # the reactor holds its own duplicate of the descriptor
    reactor.callWhenRunning(ready)
    reactor.run()
