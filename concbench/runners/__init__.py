"""Runners: thin glue that moves bytes between sockets and a scenario's server session.

Every runner module exposes serve(listener, make_session, options, ready): it serves
connections accepted on `listener` (already bound and listening, see concbench.fairness),
calls ready() once it is about to accept, and returns after SIGINT or SIGTERM.
Runners hold no scenario logic and set no socket options of their own, except the variants
that are a framework's own HTTP stack (registry `own_http_stack`, http only): they answer the
plaintext rules themselves, ignore make_session, and set TCP_NODELAY through the framework.
For a scenario that needs a backend, options["backend"] is its address (HOST:PORT) and the sessions
follow scenarios.base.BackendCallingSession; each runner calls it with its framework's own client I/O.
"""


def backend_address(options) -> tuple[str, int]:
    """options["backend"] ("HOST:PORT") as a (host, port) pair."""
    host, _, port = options["backend"].rpartition(":")
    return host.strip("[]"), int(port)


def idle_timeout(options) -> float | None:
    """options["idle_timeout"] (seconds) as a float, or None when not given (docs/robustness.md)."""
    value = options.get("idle_timeout")
    return float(value) if value else None


def with_idle_timeout(handle, timeout: float | None):
    """A connection handler(conn, ...) whose blocking socket times out after `timeout` s without progress (recv
    or sendall then raise TimeoutError, an OSError: the shared loops close the connection); unchanged if None."""
    if not timeout:
        return handle

    def timed(conn, *args):
        conn.settimeout(timeout)
        return handle(conn, *args)
    return timed
