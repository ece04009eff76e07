"""Deliberately wrong echo servers for the load generator's verification tests (threads, blocking sockets).

Each server answers with a reply function of the received bytes; None means "say nothing".
"""
from __future__ import annotations

import socket
import threading


class BrokenServer:
    def __init__(self, reply, close_after_reply: bool = False):
        self.reply = reply
        self.close_after_reply = close_after_reply
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                out = self.reply(data)
                if out:
                    conn.sendall(out)
                if self.close_after_reply:
                    conn.close()
                    return
        except OSError:
            return

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes the thread blocked in accept()
        except OSError:
            pass
        self.listener.close()
        for conn in self.connections:
            try:
                conn.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF])
