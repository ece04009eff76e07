"""The cpu scenario: every request costs a fixed amount of pure-Python work on the server, so the GIL shows.

The client sends a 16-byte seed; the server runs `iterations` rounds of a linear congruential
step on it and returns the 16-digit result, which the client checks against its own computation.
With the server given two cores (`--server-cpus 0,1`), pre-forked processes can use both; threads
cannot run Python on two cores at once.
"""
from __future__ import annotations

from .base import ClientWorkload, Exchange, Parameter, Scenario

MESSAGE = 16                       # bytes per request and per reply
DISTINCT_SEEDS = 64


def work(seed: int, iterations: int) -> int:
    """The pure-Python work of one request (deterministic, so the client can check the answer)."""
    x = seed
    for _ in range(iterations):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def encode(number: int) -> bytes:
    return b"%016d" % number


class CpuSession:
    """Requests are fixed 16-byte seeds; possibly split or several in one read."""
    __slots__ = ("iterations", "pending")
    closing = False

    def __init__(self, iterations: int):
        self.iterations = iterations
        self.pending = b""

    def receive(self, data: bytes) -> bytes:
        data = self.pending + data if self.pending else data
        whole = len(data) - len(data) % MESSAGE
        self.pending = data[whole:]
        replies = []
        for start in range(0, whole, MESSAGE):
            try:
                seed = int(data[start:start + MESSAGE])
            except ValueError:
                seed = -1
            replies.append(encode(work(seed, self.iterations)) if seed >= 0 else b"x" * MESSAGE)
        return b"".join(replies)


def client_workload(params: dict) -> ClientWorkload:
    iterations = params["iterations"]
    seeds = [1_000_003 * (i + 1) for i in range(DISTINCT_SEEDS)]
    return ClientWorkload(tuple(Exchange(encode(s), encode(work(s, iterations))) for s in seeds))


SCENARIO = Scenario(
    name="cpu",
    summary="each request runs ITERATIONS rounds of pure-Python work on the server (16-byte seed in, "
            "16-digit result out, checked by the client)",
    parameters=(Parameter("iterations", 1000, "rounds of work per request, about 190 us of CPU here (server CPU per request is measured "
                          "and reported)", minimum=1, maximum=10_000_000),),
    client_workload=client_workload,
    session_factory=lambda params: (lambda: CpuSession(params["iterations"])),
    default=True,
    levels=(("default", (2,)), ("quick", (1,)), ("full", (1, 2, 4))),
)
