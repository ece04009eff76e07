"""The native engine's Python side: which engine runs a load, and the adapter from a LoadPlan and a
ClientWorkload to one call of the C loop (concbench/clients/_engine.c), returning the same LoadOutcome.

It owns engine selection (`native` wherever the extension imports, else `uvloop`, saying why once)
and the evidence around the window (CPU time, core busy share), taken when the C loop reports the
window's edges. It knows no scenario: the ring of exchanges and the response check are passed as data.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from array import array

from concbench import cpu
from concbench.clients.plan import ERROR_KINDS, LoadOutcome, LoadPlan

ENGINES = ("native", "uvloop")

# Before sleeping, the C loop polls for events this long (sched_yield() between polls, so a task sharing the
# core goes first): a client asleep in epoll_wait costs the server a wake-up per reply. The CPU time spent
# polling with nothing to do is idle time, left out of the load generator's CPU evidence.
# CONCBENCH_ENGINE_SPIN_US=0 turns it off (the tests run both ways).
DEFAULT_SPIN_US = 50.0


def spin_us() -> float:
    """The polling time before the C loop sleeps, in µs (CONCBENCH_ENGINE_SPIN_US, else DEFAULT_SPIN_US)."""
    text = os.environ.get("CONCBENCH_ENGINE_SPIN_US")
    if not text:
        return DEFAULT_SPIN_US
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"CONCBENCH_ENGINE_SPIN_US={text!r} is not a number of µs") from None
    if not 0 <= value <= 1e6:
        raise ValueError(f"CONCBENCH_ENGINE_SPIN_US={text!r}: from 0 (never poll) to 1000000 µs")
    return value

def _load_engine():
    """The built extension; CONCBENCH_NATIVE_ENGINE=path/to/_engine*.so loads another build (make asan)."""
    path = os.environ.get("CONCBENCH_NATIVE_ENGINE")
    if not path:
        from concbench.clients import _engine as engine
        return engine
    import importlib.util
    spec = importlib.util.spec_from_file_location("concbench.clients._engine", path)
    if spec is None:
        raise ImportError(f"CONCBENCH_NATIVE_ENGINE={path} is not an extension module")
    engine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(engine)
    return engine


try:
    _engine = _load_engine()
    UNAVAILABLE_BECAUSE = ""
except ImportError as exc:              # no compiler at install time, not Linux, ...
    _engine = None
    UNAVAILABLE_BECAUSE = f"the native engine is not built ({exc})"

_said_why = False


def available() -> bool:
    return _engine is not None


def default_engine() -> str:
    """native where it is built, else uvloop (the first call says why, once per process)."""
    global _said_why
    if _engine is not None:
        return "native"
    if not _said_why:
        _said_why = True
        print(f"concbench: load generator engine uvloop: {UNAVAILABLE_BECAUSE}; "
              f"`pip install -e .` with a C compiler builds it", file=sys.stderr, flush=True)
    return "uvloop"


def loadgen_engine(engine: str | None) -> str:
    """The engine a suite's load generator runs on, for the run's metadata (or why the one asked for cannot)."""
    try:
        return resolve(engine)
    except ValueError as exc:
        return f"unavailable: {exc}"


def resolve(engine: str | None) -> str:
    """The engine a run uses: `engine` if given (ValueError if it cannot run here), else the default."""
    if engine is None:
        engine = os.environ.get("CONCBENCH_ENGINE") or default_engine()
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    if engine == "native" and _engine is None:
        raise ValueError(UNAVAILABLE_BECAUSE)
    return engine


def framing_of(check_class) -> str | None:
    """The native engine frames replies itself: only the framings it implements are accepted."""
    return getattr(check_class, "framing", None)


def supports(workload) -> str | None:
    """None if the native engine can run this workload, else why not."""
    if workload.response_check is not None and framing_of(workload.response_check) != "http/1.1 content-length":
        return f"replies checked by {workload.response_check.__name__}, whose framing the native engine lacks"
    return None


def _address(host: str, port: int) -> tuple[int, str]:
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return int(family), sockaddr[0]


def run_native(plan: LoadPlan, workload, on_event=None) -> LoadOutcome:
    """One load run on the C loop; the outcome is the uvloop engine's, field for field."""
    outcome = LoadOutcome(plan, engine="native")
    on_event = on_event or (lambda name: None)
    evidence = {}

    def edge(name: str):
        # called from the C loop (GIL held briefly); the CPU readings bracket the window as in loadgen.run
        if name == "window_start":
            evidence["cores"] = tuple(sorted(os.sched_getaffinity(0)))
            evidence["start"] = (cpu.read_cores(), time.process_time())
            on_event(name)
        elif name == "window_end":
            evidence["end"] = (time.process_time(), cpu.read_cores())
            on_event(name)
        else:
            on_event(name)

    try:
        family, address = _address(plan.host, plan.port)
    except OSError as exc:
        outcome.errors["connect"] += plan.connections
        outcome.first_error = f"connect: cannot resolve {plan.host!r}: {exc}"
        return outcome
    check = workload.response_check() if workload.response_check else None
    result = _engine.run(
        family, address, plan.port, tuple((e.request, e.expected_reply) for e in workload.exchanges),
        plan.connections, plan.warmup_s, plan.duration_s, plan.timeout_s, plan.connect_timeout_s,
        float(plan.rate or 0.0), poisson=plan.arrival == "poisson", churn=workload.connection_per_request,
        problem=check.problem if check else None, on_event=edge,
        max_head=getattr(workload.response_check, "max_header_bytes", 65536), spin_us=spin_us())
    errors = result["errors"]
    outcome.errors = {kind: errors.get(kind, 0) for kind in ERROR_KINDS}
    outcome.first_error = result["first_error"].decode("utf-8", "replace")
    outcome.connected, outcome.ramped = result["connected"], result["ramped"]
    outcome.reconnects = result["reconnects"]
    outcome.served_connections = min(plan.connections, result["served_connections"])
    outcome.verified_replies_total = result["verified_replies_total"]
    outcome.latencies_ns = _int64s(result["latencies"])
    outcome.requests = len(outcome.latencies_ns)
    if plan.open_loop and not workload.connection_per_request:
        outcome.latencies_uncorrected_ns = _int64s(result["latencies_uncorrected"])
        outcome.lateness_ns = _int64s(result["lateness"])
        outcome.backlog_end = result["backlog_end"]
    if "start" in evidence and "end" in evidence:
        (cores0, cpu0), (cpu1, cores1) = evidence["start"], evidence["end"]
        outcome.window_s = result["window_s"]
        # polling with nothing to do is idle time: left out of our CPU time and of our cores' busy share
        idle_s = result["idle_polling_cpu_s"]
        outcome.loadgen_idle_polling_s = idle_s
        outcome.loadgen_cpu_s = max(0.0, cpu1 - cpu0 - idle_s)
        outcome.loadgen_cores = evidence["cores"]
        busy = cpu.busy_pct(cores0, cores1, evidence["cores"])
        if outcome.window_s > 0 and evidence["cores"]:
            busy -= 100.0 * idle_s / (outcome.window_s * len(evidence["cores"]))
        outcome.loadgen_core_busy_pct = max(0.0, busy)
    return outcome


def _int64s(raw: bytes) -> array:
    values = array("q")
    values.frombytes(raw)
    return values
