"""The standard library's own HTTP stack for the http scenario: one BaseHTTPRequestHandler for
threads-httpserver (ThreadingHTTPServer) and processes-httpserver (HTTPServer in pre-forked workers).

GET /plaintext answers the plaintext rules, other paths 404; http.server parses and frames.
"""
from __future__ import annotations

from http.server import BaseHTTPRequestHandler

from concbench.fairness import RECV_SIZE
from concbench.scenarios.http import BODY, PATH

PLAINTEXT_PATH = PATH.decode()


class PlaintextHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive (http.server's default is HTTP/1.0: one request)
    disable_nagle_algorithm = True         # TCP_NODELAY on each connection, the fairness rule
    rbufsize = RECV_SIZE                   # bytes per read, the fairness rule
    default_request_version = "HTTP/1.1"   # answer a malformed request line with a status line, not as HTTP/0.9

    def do_GET(self):
        if self.path != PLAINTEXT_PATH:
            self.send_error(404)
            return
        self.send_response(200)            # adds Server and Date
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format, *args):
        pass                               # no access log, as on every runner


def server_on(listener, server_class, idle_timeout: float | None = None):
    """An http.server server of `server_class` serving the common listener instead of binding its own.
    idle_timeout: the handler's own `timeout` (socketserver.StreamRequestHandler), seconds; None: no timeout."""
    handler = type("TimedPlaintextHandler", (PlaintextHandler,), {"timeout": idle_timeout}) if idle_timeout \
        else PlaintextHandler
    server = server_class(listener.getsockname()[:2], handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    return server
