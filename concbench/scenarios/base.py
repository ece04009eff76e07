"""The contract every scenario implements: parameters, a server session, a client workload.

Only types and parameter parsing live here; no I/O and no scenario-specific logic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol


@dataclass(frozen=True)
class Parameter:
    """One documented scenario parameter (shown by `concbench list`)."""
    name: str
    default: int
    help: str
    minimum: int = 1
    maximum: int = 1 << 30

    def parse(self, text: str | int) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name} must be a whole number, got {text!r}") from None
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"{self.name} must be between {self.minimum} and {self.maximum}, got {value}")
        return value


class ServerSession(Protocol):
    """Per-connection server state: bytes in, bytes to send out (possibly empty).

    After sending what receive() returned, a runner closes the connection if `closing` is true.

    Streaming sessions (concbench/scenarios/stream.py) extend this: their factory carries `streaming = True`
    (is_streaming), and once receive() has seen the whole request the session's `chunks` is an iterator
    of bytes; the runner writes every chunk in order with its framework's flow control (it does not
    read further), then closes. A runner may choose a separate handler for them once, per server."""

    closing: bool

    def receive(self, data: bytes) -> bytes: ...


def is_streaming(make_session) -> bool:
    """True if the session factory makes streaming sessions (see ServerSession)."""
    return getattr(make_session, "streaming", False)


class BackendCallingSession(ServerSession, Protocol):
    """A session of a scenario with `needs_backend` (concbench/scenarios/backend.py) also calls a backend service.

    After receive(), the runner sends take_backend_request()'s bytes (b"" if none) on its backend
    connection, then feeds every chunk the backend sends to backend_received(), which returns the
    client's reply once the backend's reply is whole (b"" before; framing is the session's). After
    sending that reply, the runner takes the next backend request again (one may have queued).
    A ValueError from backend_received means the backend broke the framing: close both connections."""

    def take_backend_request(self) -> bytes: ...

    def backend_received(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class Exchange:
    """One request the client sends and the exact reply it must get back."""
    request: bytes
    expected_reply: bytes


@dataclass(frozen=True)
class ClientWorkload:
    """A ring of exchanges the load generator cycles through. Replies are compared byte for byte
    with expected_reply, unless response_check is given: a class whose instances frame a reply
    (frame(buffer) -> length, 0 for incomplete, -1 for unframeable) and judge it (problem(reply))."""
    exchanges: tuple[Exchange, ...]
    response_check: type | None = None
    connection_per_request: bool = False   # churn: connect, one exchange, the server closes


@dataclass(frozen=True)
class ProbeReply:
    """What a probe got back for one of its requests: the reply's bytes (all that came, if it could not be
    framed), whether the server closed or reset the connection first, and which rules apply."""
    index: int                  # which of the probe's requests (0 = the first)
    data: bytes
    closed: bool = False        # the server closed (or reset) before a whole reply
    unframeable: bool = False   # frame() said -1: the reply can never be framed
    own_http_stack: bool = False    # the runner is a framework's own HTTP stack (concbench.registry)


@dataclass(frozen=True)
class Probe:
    """An edge rule checked before anything is measured (`concbench verify`): `requests` are sent one after
    another on one fresh connection; each reply is read until framer()'s frame(buffer) gives its length (see
    ClientWorkload), the server closes, or it cannot be framed; judge(ProbeReply) says what is wrong, or None.
    Sans-IO: the scenario says what to send and what is right; concbench.studies.verify moves the bytes."""
    name: str
    requests: tuple[bytes, ...]
    framer: Callable[[], Callable[[bytes], int]]    # a fresh frame function per connection
    judge: Callable[[ProbeReply], str | None]


DEFAULT_SUITE = "default"       # the runner group of most scenarios' default suite (concbench.registry.GROUPS)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    parameters: tuple[Parameter, ...]
    client_workload: Callable[[dict], ClientWorkload]
    # params -> a callable making one ServerSession per connection (state shared by one server
    # process, such as a cached Date header, lives in the closure)
    session_factory: Callable[[dict], Callable[[], ServerSession]]
    default: bool = True        # part of the default `run` suite
    measured_by: str | None = None  # a scenario `run`'s closed-loop load generator cannot drive: who measures it
    # sessions call a backend service (BackendCallingSession): concbench starts one per server and
    # passes its address to the runner as options["backend"] = "HOST:PORT"
    needs_backend: bool = False
    # the concurrency levels `run` measures per profile (default, quick, full): the levels that show its point
    levels: tuple[tuple[str, tuple[int, ...]], ...] = ()
    suite: str = DEFAULT_SUITE  # the runner group whose runners form its default suite in `run`
    probes: tuple[Probe, ...] = ()  # edge rules `verify` checks after a verified load

    def levels_for(self, profile: str) -> tuple[int, ...] | None:
        """The levels this scenario declares for a profile, or None (the profile's own connections apply)."""
        return dict(self.levels).get(profile)

    def parse_params(self, given: dict | None = None) -> dict:
        """Defaults overlaid with `given`; raises ValueError naming the bad parameter."""
        known = {p.name: p for p in self.parameters}
        params = {p.name: p.default for p in self.parameters}
        for key, value in (given or {}).items():
            if key not in known:
                raise ValueError(f"scenario {self.name!r} has no parameter {key!r} "
                                 f"(known: {', '.join(known) or 'none'})")
            params[key] = known[key].parse(value)
        return params
