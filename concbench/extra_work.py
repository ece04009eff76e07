"""A labelled test double: `--option RUNNER:extra_work=N` makes every session's receive() run N more loop
iterations first, a fixed extra cost per request, to check that a known slowdown is caught (docs/instructions.md).

It owns the option's name and the session wrapper; concbench.harness.serve applies it, orchestrate accepts it for any runner.
Never set in a default suite; a result carries it in its options_<runner> metadata like any runner option.
"""
from __future__ import annotations

OPTION = "extra_work"


def parse(value) -> int:
    try:
        iterations = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{OPTION} must be a whole number of loop iterations, got {value!r}") from None
    if iterations < 0:
        raise ValueError(f"{OPTION} must be 0 or more, got {iterations}")
    return iterations


def with_extra_work(cls, iterations: int):
    """A subclass of the session class whose receive() first runs the loop, inline (one extra frame, no proxy)."""
    base_receive = cls.receive

    def receive(self, data):
        total = 0
        for i in range(iterations):
            total += i
        return base_receive(self, data)
    return type(f"{cls.__name__}WithExtraWork", (cls,), {"__slots__": (), "receive": receive,
                                                          "extra_work": iterations})


def wrap(make_session, iterations: int):
    """The session factory with the extra work: each session's class becomes its with_extra_work subclass (the
    same layout, so the object is the session itself); the factory's own attributes (e.g. streaming) are kept."""
    if not iterations:
        return make_session
    subclasses: dict[type, type] = {}

    def make():
        session = make_session()
        cls = type(session)
        if cls not in subclasses:
            subclasses[cls] = with_extra_work(cls, iterations)
        session.__class__ = subclasses[cls]
        return session
    if hasattr(make_session, "streaming"):
        make.streaming = make_session.streaming
    return make
