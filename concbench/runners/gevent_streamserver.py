"""gevent: gevent.server.StreamServer, one greenlet per connection on cooperative sockets.

No monkey-patching: StreamServer hands each greenlet a gevent socket. Every runner lives in
its own server process, so gevent never touches another runner.
"""
from __future__ import annotations

import signal

import gevent
import gevent.socket
from gevent.server import StreamServer

from concbench.fairness import RECV_SIZE, configure_connection
from concbench.scenarios.base import is_streaming

from . import backend_address
from .blocking import BlockingBackend, serve_backend_connection, serve_stream_connection


def serve(listener, make_session, options, ready) -> None:
    def handle(sock, address):
        configure_connection(sock)
        session = make_session()
        recv, sendall, receive = sock.recv, sock.sendall, session.receive
        try:
            while True:
                data = recv(RECV_SIZE)
                if not data:
                    break
                reply = receive(data)
                if reply:
                    sendall(reply)
                if session.closing:
                    break
        except OSError:
            pass
        finally:
            sock.close()

    def handle_stream(sock, address):
        serve_stream_connection(sock, make_session())

    if options.get("backend"):
        address = backend_address(options)

        def handle(sock, address_of_client):   # noqa: F811  (the backend scenario: a backend socket per greenlet)
            backend = BlockingBackend(address, gevent.socket.create_connection)
            try:
                serve_backend_connection(sock, make_session(), backend)
            finally:
                backend.close()

    cooperative = gevent.socket.socket(listener.family, listener.type, fileno=listener.detach())
    server = StreamServer(cooperative, handle_stream if is_streaming(make_session) else handle)
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, server.stop)
    server.start()
    ready()
    server.serve_forever()
