"""tornado-web: tornado.web's own HTTP stack, an Application with one RequestHandler, on asyncio (http only).

RequestHandler sets Server (TornadoServer/...), Date and Content-Length; unknown paths get
Tornado's 404. HTTPServer serves the common listener via add_sockets.
"""
from __future__ import annotations

import tornado.web
from tornado.httpserver import HTTPServer

from concbench.scenarios.http import BODY, PATH

from . import idle_timeout
from .aio import run_until_signalled


class PlaintextHandler(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write(BODY)


def serve(listener, make_session, options, ready) -> None:
    async def start_server():
        app = tornado.web.Application([(PATH.decode(), PlaintextHandler)])
        timeout = idle_timeout(options)      # tornado's own idle_connection_timeout (its default: 3600 s)
        server = HTTPServer(app, **({"idle_connection_timeout": timeout} if timeout else {}))
        listener.setblocking(False)  # as tornado.netutil.bind_sockets leaves its sockets
        server.add_sockets([listener])
        return server.stop

    run_until_signalled(start_server, ready)
