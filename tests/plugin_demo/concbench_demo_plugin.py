"""A tiny runner plugin for the tests: a thread per connection, written only against docs/runners.md."""
import signal
import socket
import threading

MODEL = "thread per connection (demo plugin)"
SUMMARY = "the demo plugin of tests/test_plugins.py"
ONLY_SCENARIOS = ("echo", "http")


def serve(listener, make_session, options, ready):
    def handle(conn):
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = make_session()
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                reply = session.receive(data)
                if reply:
                    conn.sendall(reply)
                if session.closing:
                    return

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    ready()
    try:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()
    except KeyboardInterrupt:
        listener.close()
