"""threads-httpserver: the standard library's ThreadingHTTPServer, a thread per connection (http only).

http.server's own stack (concbench/runners/httpserver_plaintext.py) on the common listener; SIGINT/SIGTERM
make serve_forever exit.
"""
from __future__ import annotations

import signal
from http.server import ThreadingHTTPServer

from . import idle_timeout
from .httpserver_plaintext import server_on


def _stop(signum, frame):
    raise KeyboardInterrupt


def serve(listener, make_session, options, ready) -> None:
    server = server_on(listener, ThreadingHTTPServer, idle_timeout(options))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, _stop)
    ready()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
