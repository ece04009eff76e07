"""Option idle_timeout: where the framework has an idle timeout, a silent connection is closed by the server
(docs/robustness.md); a connection that keeps talking is served as before."""
from __future__ import annotations

import socket

import pytest

from concbench.harness.server_process import ServerProcess

RUNNERS = [("threads", "echo"), ("processes", "echo"), ("threads-httpserver", "http"),
           ("processes-httpserver", "http"), ("twisted-web", "http"), ("tornado-web", "http")]


@pytest.mark.parametrize("runner,scenario", RUNNERS)
def test_a_silent_connection_is_closed_by_the_server(runner, scenario):
    from concbench import registry
    params = registry.SCENARIOS[scenario].parse_params()
    options = {"idle_timeout": "0.3", **({"workers": "1"} if runner.startswith("processes") else {})}
    server = ServerProcess(runner, scenario, params, None, options).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
            if scenario == "http":            # one request first: the server has the connection in hand
                conn.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
                got = b""
                while not got.endswith(b"Hello, World!"):     # headers and body may come in separate segments
                    chunk = conn.recv(65536)
                    assert chunk, got
                    got += chunk
                assert got.startswith(b"HTTP/1.1 200")
            else:
                conn.sendall(b"x" * params["size"])
                got = b""
                while len(got) < params["size"]:
                    got += conn.recv(65536)
            try:
                rest = conn.recv(65536)           # silent from here: the server ends it (bounded by 30 s)
            except ConnectionResetError:
                rest = b""
            assert rest == b""
    finally:
        server.stop()
