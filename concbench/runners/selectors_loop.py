"""selectors: the floor. A bare event loop on the standard library's selectors module (epoll on Linux), written
as plainly as a textbook: one selector, non-blocking sockets, a callback per ready socket, an output buffer
per connection. No framework: every event-loop figure can be read as the overhead a framework adds above it.

While a connection has unsent output it is watched for writability only (it reads no more: the backpressure);
a streaming session's chunks are sent while the socket takes them. Backend scenario: each connection opens its
own non-blocking backend connection and relays through the same loop. SIGINT/SIGTERM end the loop.
"""
from __future__ import annotations

import errno
import selectors
import signal
import socket

from concbench.fairness import RECV_SIZE, configure_connection
from concbench.scenarios.base import is_streaming

from . import backend_address

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
ACCEPT_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED, errno.EPROTO)


class Endpoint:
    """One non-blocking socket in the loop: what to do with bytes in, and what is still to be sent."""

    def __init__(self, loop: "Loop", sock, on_data, on_close=None):
        self.loop, self.sock, self.on_data, self.on_close = loop, sock, on_data, on_close
        self.out = bytearray()
        self.more = None            # a streaming session's remaining chunks
        self.close_when_sent = False
        self.connecting = False
        self.closed = False
        self.events = READ
        loop.selector.register(sock, READ, self)

    def handle(self, mask):
        if mask & WRITE:
            self.writable()
        if mask & READ and not self.closed:
            self.readable()

    def readable(self):
        try:
            data = self.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        self.on_data(self, data)

    def send(self, data: bytes):
        self.out += data
        self.flush()

    def stream(self, chunks):
        """Send every chunk of `chunks` as fast as the socket takes them, then close."""
        self.more = chunks
        self.close_when_sent = True
        self.flush()

    def flush(self):
        if self.connecting or self.closed:
            return
        try:
            while True:
                if not self.out:
                    chunk = next(self.more, None) if self.more is not None else None
                    if chunk is None:
                        self.more = None
                        break
                    self.out += chunk
                sent = self.sock.send(self.out)
                del self.out[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.close()
            return
        if self.out or self.more is not None:
            self.watch(WRITE)              # read no more until the output is gone
        elif self.close_when_sent:
            self.close()
        else:
            self.watch(READ)

    def writable(self):
        if self.connecting:
            error = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                self.close()
                return
            self.connecting = False
            configure_connection(self.sock)
        self.flush()

    def watch(self, events):
        if events != self.events and not self.closed:
            self.events = events
            self.loop.selector.modify(self.sock, events, self)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.loop.selector.unregister(self.sock)
        self.sock.close()
        if self.on_close:
            self.on_close()


class Loop:
    def __init__(self):
        self.selector = selectors.DefaultSelector()

    def run(self):
        select = self.selector.select
        while True:
            for key, mask in select():
                key.data.handle(mask)


def serve(listener, make_session, options, ready) -> None:
    loop = Loop()
    streaming = is_streaming(make_session)
    backend_at = backend_address(options) if options.get("backend") else None

    def on_data(conn: Endpoint, data: bytes):
        session = conn.session
        reply = session.receive(data)
        if streaming and session.chunks is not None and not session.closing:
            conn.stream(session.chunks)
            return
        if session.closing:
            conn.close_when_sent = True
        if reply or session.closing:
            conn.send(reply)
        if backend_at is not None:
            request = session.take_backend_request()
            if request:
                conn.backend.send(request)

    def connect_backend(conn: Endpoint):
        sock = socket.socket(socket.AF_INET6 if ":" in backend_at[0] else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        err = sock.connect_ex(backend_at)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            conn.close()
            return

        def on_backend_data(backend: Endpoint, data: bytes):
            try:
                reply = conn.session.backend_received(data)
            except ValueError:
                backend.close()
                return
            if reply:
                if conn.session.closing:
                    conn.close_when_sent = True
                conn.send(reply)
                request = conn.session.take_backend_request()
                if request:
                    backend.send(request)

        backend = Endpoint(loop, sock, on_backend_data, on_close=conn.close)
        backend.connecting = True
        backend.watch(WRITE)
        conn.backend = backend
        conn.on_close = backend.close

    def on_accept(mask):
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in ACCEPT_ERRORS:
                    return
                raise
            sock.setblocking(False)
            configure_connection(sock)
            conn = Endpoint(loop, sock, on_data)
            conn.session = make_session()
            if backend_at is not None:
                connect_backend(conn)

    class Acceptor:
        handle = staticmethod(on_accept)

    def stop(signum, frame):
        raise KeyboardInterrupt

    listener.setblocking(False)
    loop.selector.register(listener, READ, Acceptor)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    ready()
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
