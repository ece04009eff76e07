"""twisted-web: twisted.web's own HTTP stack, a Site with one leaf Resource, on the epoll reactor (http only).

Site sets Server (TwistedWeb/...), Date and Content-Length; the resource sets Content-Type and 404s
other paths. The reactor adopts the common listener, as in concbench/runners/twisted_protocol.py.
"""
from __future__ import annotations

import sys

from twisted.internet import epollreactor

if "twisted.internet.reactor" not in sys.modules:    # one reactor per process (tests import both runners)
    epollreactor.install()

from twisted.internet import reactor  # noqa: E402  (after the reactor is installed)
from twisted.web import http, resource, server  # noqa: E402

from concbench.scenarios.http import BODY, PATH  # noqa: E402

from . import idle_timeout  # noqa: E402


class Plaintext(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        if request.path != PATH:
            request.setResponseCode(404)
            return b"Not Found"
        request.setHeader(b"Content-Type", b"text/plain")
        return BODY


class NoDelayChannel(http.HTTPChannel):
    def connectionMade(self):
        self.transport.setTcpNoDelay(True)     # the fairness rule, via Twisted's own API
        super().connectionMade()


class PlaintextSite(server.Site):
    protocol = NoDelayChannel
    noisy = False

    def log(self, request):
        pass                                   # no access log, as on every runner


def serve(listener, make_session, options, ready) -> None:
    listener.setblocking(False)      # adoptStreamPort requires a non-blocking descriptor
    timeout = idle_timeout(options)          # twisted.web's own HTTPFactory timeout (its default: 12 hours)
    site = PlaintextSite(Plaintext(), **({"timeout": timeout} if timeout else {}))
    reactor.adoptStreamPort(listener.fileno(), listener.family, site)
    listener.close()                 # the reactor holds its own duplicate of the descriptor
    reactor.callWhenRunning(ready)
    reactor.run()
