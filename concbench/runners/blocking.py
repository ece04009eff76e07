"""The blocking-socket connection loop shared by the threads and processes runners.

It owns only the recv/sendall loop (and its streaming twin, where a blocking sendall per chunk is
the flow control); accepting and the concurrency model live in the runners.
"""
from __future__ import annotations

from concbench.fairness import RECV_SIZE, configure_connection


def serve_connection(conn, session) -> None:
    """Serve one connection until the peer closes or the socket fails; always closes it."""
    with conn:
        try:
            configure_connection(conn)
            recv, sendall, receive = conn.recv, conn.sendall, session.receive
            while True:
                data = recv(RECV_SIZE)
                if not data:
                    return
                reply = receive(data)
                if reply:
                    sendall(reply)
                if session.closing:
                    return
        except OSError:
            return


def serve_stream_connection(conn, session) -> None:
    """A streaming session: read until the request is complete, then sendall each chunk (blocks while the
    socket's send buffer is full, which is the backpressure), then close."""
    with conn:
        try:
            configure_connection(conn)
            while session.chunks is None and not session.closing:
                data = conn.recv(RECV_SIZE)
                if not data:
                    return
                session.receive(data)
            if session.chunks is not None and not session.closing:
                for chunk in session.chunks:
                    conn.sendall(chunk)
        except OSError:
            return


def connection_handler(make_session):
    """serve_stream_connection for streaming sessions, else serve_connection (chosen once per server)."""
    from concbench.scenarios.base import is_streaming
    return serve_stream_connection if is_streaming(make_session) else serve_connection


def accept_forever(listener, handle_connection) -> None:
    """Blocking accept loop; out-of-descriptor and aborted-connection errors are survived, not fatal."""
    import errno
    import time
    while True:
        try:
            conn, _ = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                time.sleep(0.01)   # let connections close, then accept again
                continue
            if exc.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EINTR):
                continue
            raise
        handle_connection(conn)


# --- the backend scenario (sessions that call a backend service; see concbench/scenarios/base.py) ---------------

BACKEND_TIMEOUT_S = 5.0     # a backend call (connect, send, whole reply) that takes longer fails the connection


class BlockingBackend:
    """One persistent blocking connection to the backend service, opened on first use, dropped on failure.

    `connect` is socket.create_connection, or gevent.socket.create_connection for cooperative sockets."""
    __slots__ = ("address", "connect", "sock")

    def __init__(self, address, connect=None):
        import socket
        self.address = address
        self.connect = connect or socket.create_connection
        self.sock = None

    def call(self, session, request: bytes) -> bytes:
        """Send one backend request; feed the backend's bytes to the session until it gives the client reply."""
        sock = self.sock
        if sock is None:
            sock = self.sock = self.connect(self.address, timeout=BACKEND_TIMEOUT_S)
            configure_connection(sock)
        try:
            sock.sendall(request)
            while True:
                chunk = sock.recv(RECV_SIZE)
                if not chunk:
                    raise ConnectionResetError("the backend closed the connection")
                reply = session.backend_received(chunk)
                if reply:
                    return reply
        except (OSError, ValueError):
            self.close()
            raise

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def handle_request_data(conn, session, data: bytes, backend) -> bool:
    """Feed one read to the session and send everything it answers, calling the backend (if any) in between.
    False once the session asks to close."""
    reply = session.receive(data)
    if reply:
        conn.sendall(reply)
    if backend is not None:
        while request := session.take_backend_request():
            conn.sendall(backend.call(session, request))
    return not session.closing


def serve_backend_connection(conn, session, backend) -> None:
    """serve_connection for backend sessions: the same loop with a blocking backend call per request."""
    with conn:
        try:
            configure_connection(conn)
            while True:
                data = conn.recv(RECV_SIZE)
                if not data or not handle_request_data(conn, session, data, backend):
                    return
        except (OSError, ValueError):
            return
