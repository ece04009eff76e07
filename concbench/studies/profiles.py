"""The profiles of a `run` (default, quick, full): levels, sizes, windows, repetitions and the stop rule's bounds.

It owns the Profile dataclass and the three named profiles; the command line turns options into a changed copy
(concbench.cli.plans), and concbench.studies.orchestrate plans and measures from it.
"""
from __future__ import annotations

from dataclasses import dataclass

from concbench import registry


@dataclass(frozen=True)
class Profile:
    name: str
    connections: tuple[int, ...]
    sizes: tuple[int, ...]
    warmup_s: float
    window_s: float
    repetitions: int
    timeout_s: float = 2.0
    rates: tuple = (None,)              # open-loop offered rates; None = closed loop
    arrival: str = "uniform"
    p99_target_s: float = 0.010         # for capacity: the highest rate whose p99 stays under this
    loadgen_procs: int = 1
    loadgen: str = "concbench"
    engine: str | None = None            # load-generator engine; None: the default (concbench.clients.native_engine)
    slow_clients: tuple = (None,)       # slow-client levels (concbench.clients.slow_clients); None = not a dimension
    slow_step_bytes: int = 4
    slow_interval_s: float = 0.1
    # per-scenario concurrency levels that replace `connections` (an explicit --connections replaces both)
    scenario_connections: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # repetitions until stable (concbench.studies.repetitions): `repetitions` is the minimum; levels with an unstable
    # case get more rounds up to this maximum, within this many seconds for the extra rounds
    max_repetitions: int | None = None  # None: the minimum (no stop rule)
    stability_budget_s: float = 0.0

    def levels(self, scenario: str) -> tuple[int, ...]:
        """The concurrency levels measured for one scenario."""
        return dict(self.scenario_connections).get(scenario, self.connections)


PROFILES = {
    # the default `make bench` suite: every default scenario, each at the levels that show its point,
    # 3 repetitions; sized to finish within 10 minutes on 2 cores (README gives the measured time): 3 rounds
    # took 443-518 s, so unstable levels get up to 5 repetitions within 60 s of extra rounds
    # (518 + 60 s stays under the 600 s of `make bench`)
    "default": Profile("default", (1, 100, 1000), (64,), warmup_s=0.25, window_s=0.8, repetitions=3,
                       scenario_connections=registry.profile_levels("default"),
                       max_repetitions=5, stability_budget_s=60.0),
    # for tests and smoke checks
    "quick": Profile("quick", (1, 10, 100), (64,), warmup_s=0.2, window_s=0.5, repetitions=3,
                     scenario_connections=registry.profile_levels("quick")),
    # the longer profile: all sizes, longer windows, 5 repetitions
    "full": Profile("full", (1, 10, 100, 1000), (64, 1024, 16384), warmup_s=2.0, window_s=10.0, repetitions=5,
                    scenario_connections=registry.profile_levels("full"),
                    max_repetitions=10, stability_budget_s=900.0),
}
