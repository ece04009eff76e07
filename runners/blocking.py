"""The blocking-socket connection loop shared by the threads and processes runners.

It owns only the recv/sendall loop; accepting and the concurrency model live in the runners.
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
