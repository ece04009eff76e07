"""gevent-pywsgi: gevent's own HTTP stack, gevent.pywsgi.WSGIServer with a plain WSGI app (http only).

pywsgi sets Date and Content-Length; the app sets Content-Type and Server (pywsgi sends none).
No monkey-patching; stop on SIGINT/SIGTERM via gevent.signal_handler.
"""
from __future__ import annotations

import signal

import gevent
import gevent.socket
from gevent.pywsgi import WSGIServer

from concbench.fairness import configure_connection
from concbench.scenarios.http import BODY, PATH

PLAINTEXT_PATH = PATH.decode()


def application(environ, start_response):
    if environ["PATH_INFO"] != PLAINTEXT_PATH:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Server", "gevent-pywsgi")])
        return [b"Not Found"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY))),
                              ("Server", "gevent-pywsgi")])
    return [BODY]


class PlaintextServer(WSGIServer):
    def handle(self, sock, address):
        configure_connection(sock)           # TCP_NODELAY per connection, the fairness rule
        super().handle(sock, address)


def serve(listener, make_session, options, ready) -> None:
    cooperative = gevent.socket.socket(listener.family, listener.type, fileno=listener.detach())
    server = PlaintextServer(cooperative, application, log=None)
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, server.stop)
    server.start()
    ready()
    server.serve_forever()
