"""What one cell of a `run` suite is: a Case (scenario, parameters, connections, runner, offered rate, slow clients).

It owns the identity of what one measurement measures; how a case is named in a result file is
concbench.results.format's (case_name), and how cases are planned is concbench.studies.orchestrate's.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One cell of the suite: what is measured (every repetition of it gets a fresh server)."""
    scenario: str
    params: tuple[tuple[str, int], ...]
    connections: int
    runner: str
    rate: float | None = None           # open loop: offered requests/s; None = closed loop
    slow_clients: int | None = None     # slow clients trickling alongside; None = not a dimension of this run

    def label(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.params)
        rate = f" rate={self.rate:g}" if self.rate else ""
        slow = f" slow={self.slow_clients}" if self.slow_clients is not None else ""
        return f"{self.scenario} {params} c={self.connections}{rate}{slow}"
