"""What each study measures, as frozen plans: the contract between the command line (concbench.cli.plans makes them
from arguments) and the studies (each takes its plan; none reads an argument).

It owns the plans' fields and what each study measures when not told otherwise (the command line's help states these
defaults); no checks, and no imports beyond the profile and the file a run resumes, so that reading a plan costs
nothing (the command line reads them before every command, `serve` and `load` included).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from concbench.studies.profiles import Profile

if TYPE_CHECKING:                 # a type only: the result file's reader is not loaded to read a plan
    from concbench.results.run_file import Previous

GIB = 1 << 30
# `memory`: idle connections held by one server, cumulatively; a server per level for the runners with a worker per
# connection (forking 10000 is not sensible); connections open before the baseline; fresh servers per runner
MEMORY_LEVELS = (1000, 5000, 10000)
MEMORY_PROCESS_LEVELS = (10, 50, 100)
MEMORY_WARM = 10
MEMORY_REPETITIONS = 3
# `backpressure`: slow-reader levels, fast readers, a slow reader's pace and receive buffer (Linux doubles it),
# fresh servers per cell, warm-up and window, and the worst case a plan may take (also a kill switch per run)
BACKPRESSURE_SLOW_LEVELS = (0, 1, 4, 16)
BACKPRESSURE_FAST = 2
BACKPRESSURE_SLOW_RATE = 1 << 20          # bytes/s per slow reader (1 MiB/s)
BACKPRESSURE_SLOW_RCVBUF = 16384
BACKPRESSURE_REPETITIONS = 3
BACKPRESSURE_WARMUP_S = 1.0
BACKPRESSURE_WINDOW_S = 3.0
BACKPRESSURE_BUDGET_GIB = 8.0
# `run --measure instructions`: levels when --connections is not given (one connection, and one higher level where
# the count stays stable under callgrind, which runs one thread at a time: docs/instructions.md), requests counted
INSTRUCTIONS_LEVELS = (1, 10)
INSTRUCTIONS_REQUESTS = 1000


@dataclass(frozen=True)
class Destination:
    """Where a study's results go (the output options): -o FILE, --force, --resume FILE, the report."""
    output: str | None = None          # None: the study's default, time-stamped name (made unique)
    force: bool = False                # replace an existing -o file
    previous: Previous | None = None   # --resume: the unfinished file, continued in place
    report_dir: str | None = None      # run: the report's folder (default: reports/ beside -o, or ./reports)
    no_report: bool = False            # run --no-report, memory/backpressure --no-chart
    run_args: tuple[str, ...] = ()     # the command's own arguments without output options (what --resume re-plans)
    command_line: tuple[str, ...] = ()  # every argument as given (the file's `command`)


@dataclass(frozen=True)
class RunPlan:
    """`concbench run` (concbench.studies.orchestrate)."""
    scenarios: tuple[str, ...]
    runners: tuple[str, ...]
    profile: Profile
    server_cpus: tuple[int, ...]
    loadgen_cpus: tuple[int, ...]
    named: frozenset[str] | None = None      # the runners named; others run only their default-suite scenarios
    extra_params: tuple[tuple[str, int], ...] = ()    # --param NAME=VALUE for every selected scenario that has it
    options: dict = field(default_factory=dict)      # runner -> {option: value}
    rate_search: bool = False                # capacity searches from profile.rates[0]
    measure: str = "wall"                    # or "instructions" (concbench.studies.instructions)
    requests: int | None = None              # --measure instructions: verified requests counted per measurement
    destination: Destination = Destination()


@dataclass(frozen=True)
class PythonsPlan:
    """`concbench run --python PATH...` (concbench.studies.interpreters)."""
    pythons: tuple[str, ...]
    output: str | None                       # the tagged result file (None: results/<scenarios>-<time>.json)
    scenarios: tuple[str, ...]               # as named (the default file name), or ("suite",)
    rounds: int
    run_options: tuple[str, ...]             # the suite options every round's `concbench run` gets
    options_without_runners: tuple[str, ...]   # the same without --runners (a round that drops runners)
    runners: tuple[str, ...] = ()            # --runners as given (empty: the default selection)
    measure: str = "wall"
    no_report: bool = False


@dataclass(frozen=True)
class MemoryPlan:
    """`concbench memory` (concbench.studies.memory)."""
    runners: tuple[str, ...]
    levels: tuple[int, ...]                  # idle connections held, cumulatively, by one server
    process_levels: tuple[int, ...]          # a server per level with a worker per connection
    repetitions: int
    warm: int
    server_cpus: tuple[int, ...]
    loadgen_cpus: tuple[int, ...]
    options: dict = field(default_factory=dict)        # runner -> {option: value}
    destination: Destination = Destination()


@dataclass(frozen=True)
class BackpressurePlan:
    """`concbench backpressure` (concbench.studies.backpressure)."""
    runners: tuple[str, ...]
    params: dict                             # the stream scenario's parameters (size, chunk)
    levels: tuple[int, ...]                  # slow readers
    fast: int
    slow_rate: float                         # bytes/s per slow reader
    slow_rcvbuf: int
    repetitions: int
    warmup_s: float
    window_s: float
    budget_bytes: int
    server_cpus: tuple[int, ...]
    loadgen_cpus: tuple[int, ...]
    options: dict = field(default_factory=dict)     # runner -> {option: value}
    destination: Destination = Destination()


@dataclass(frozen=True)
class CeilingPlan:
    """`concbench ceiling` (concbench.studies.ceiling)."""
    connections: int
    size: int
    duration: float
    repetitions: int = 5
    open_loop_rates: tuple[float, ...] = ()
    engine: str | None = None                 # the open-loop checks' engine (None: native where built)
    server_cpus: tuple[int, ...] = ()
    loadgen_cpus: tuple[int, ...] = ()
    command_line: tuple[str, ...] = ()
    open_loop_repetitions: int = 2            # each open-loop rate, concbench and the C client, this many times


@dataclass(frozen=True)
class ClientsPlan:
    """`concbench clients` (concbench.studies.client_compare)."""
    scenario: str
    runners: tuple[str, ...]
    clients: tuple[str, ...] | None           # None: native and the scenario's reference client
    connections: int
    size: int
    duration: float
    repetitions: int
    server_cpus: tuple[int, ...] = ()
    loadgen_cpus: tuple[int, ...] = ()
    command_line: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerifyPlan:
    """`concbench verify` (concbench.studies.verify)."""
    runners: tuple[str, ...]
    scenarios: tuple[str, ...]


@dataclass(frozen=True)
class ComparePlan:
    """How to compare and where to write it: `compare`'s options, shared with `ab` (concbench.studies.comparison)."""
    json: str | None = None              # also the comparison as JSON ('-': stdout, the markdown then to stderr)
    markdown: str | None = None          # also the markdown table ('-': stdout, where it is printed anyway)
    thresholds: tuple[str, ...] = ()     # METRIC=PCT overrides
    normalize: str | None = None         # divide every figure by this runner's median at the same case


@dataclass(frozen=True)
class AbPlan:
    """`concbench ab` (concbench.studies.ab)."""
    refs: dict                                  # variant -> revision ("HEAD" where none was given)
    pips: dict                                  # variant -> extra pip requirements (a tuple)
    pythons: dict                               # variant -> interpreter (None: the one running concbench)
    rounds: int
    run_options: tuple[str, ...]                # the `concbench run` options both children get
    output_dir: str | None = None
    compare: ComparePlan = ComparePlan()
    command_line: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegressPlan:
    """`concbench regress`, what `make regress` runs (concbench.studies.regress)."""
    baseline: str
    baseline_instructions: str
    output_dir: str
    allow_inconclusive: bool
    skip_wall: bool = False
    thresholds: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadCommandPlan:
    """`concbench load`: one load generator against any server (concbench.studies.load)."""
    scenario: str
    params: dict
    host: str
    port: int
    connections: int
    duration_s: float
    warmup_s: float
    timeout_s: float
    rate: float | None = None
    arrival: str = "uniform"
    cpus: tuple[int, ...] | None = None
    engine: str | None = None
    loadgen_procs: int = 1
    start_at: float | None = None
    json: str | None = None
    events: bool = False
