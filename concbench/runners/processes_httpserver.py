"""processes-httpserver: pre-forked workers, each an http.server HTTPServer on the shared listener (http only).

One request/connection at a time per worker (no threads), with the processes runner's arbiter and
worker count, and threads-httpserver's handler (concbench/runners/httpserver_plaintext.py).
"""
from __future__ import annotations

from http.server import HTTPServer

from . import idle_timeout
from .httpserver_plaintext import server_on
from .processes import prefork, worker_count


def serve(listener, make_session, options, ready) -> None:
    prefork(listener, worker_count(options), lambda: server_on(listener, HTTPServer, idle_timeout(options)).serve_forever(), ready)
