"""What one load run is asked to do (LoadPlan) and what it saw (LoadOutcome), the same for every engine.

It owns those two records and the error kinds a load run counts; it runs nothing. The engines (uvloop in
concbench.clients.loadgen and .churn, C in .native_engine) fill a LoadOutcome; concbench.results.measurement reads it.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass, field

ERROR_KINDS = ("mismatch", "closed", "reset", "timeout", "connect")


@dataclass
class LoadPlan:
    host: str
    port: int
    connections: int
    warmup_s: float
    duration_s: float
    timeout_s: float = 2.0
    connect_timeout_s: float = 5.0
    rate: float | None = None             # open loop: requests/s in total; None = closed loop
    arrival: str = "uniform"              # open loop timetable: uniform or poisson

    @property
    def open_loop(self) -> bool:
        return self.rate is not None


@dataclass
class LoadOutcome:
    """What one load run saw; latencies_ns holds every reply completed inside the window."""
    plan: LoadPlan
    window_s: float = 0.0
    requests: int = 0                     # verified replies completed inside the window
    latencies_ns: array = field(default_factory=lambda: array("q"))
    # open loop only: latency from the actual send, and how late our own timer sent requests
    latencies_uncorrected_ns: array = field(default_factory=lambda: array("q"))
    lateness_ns: array = field(default_factory=lambda: array("q"))
    backlog_end: float = 0.0              # open loop: timetable slots due but not yet sent, at the window's end
    errors: dict = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    first_error: str = ""
    connected: int = 0
    ramped: int = 0                       # connections that answered their ramp-up exchange
    reconnects: int = 0                   # connections reopened after a reset or close under load
    served_connections: int = 0           # connections with at least one verified reply
    verified_replies_total: int = 0       # verified replies in every phase (ramp-up, warm-up, window, drain)
    loadgen_cpu_s: float = 0.0            # this process's CPU time inside the window
    loadgen_core_busy_pct: float = 0.0    # how busy the load generator's cores were (softirq included)
    loadgen_cores: tuple = ()
    loadgen_idle_polling_s: float = 0.0  # native engine: CPU time it polled and found nothing (left out of the above)
    engine: str = "uvloop"                # which engine ran the load (concbench.clients.native_engine)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def starved_connections(self) -> int:
        return self.plan.connections - self.served_connections
