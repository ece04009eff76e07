"""`concbench run` and `concbench ceiling`: the suite, measurement by measurement, with progress.

It owns profiles, repetition and rotation, one fresh server per measurement, the load generator
subprocess and the sampler around its window. Results go to concbench.results.format; tables to analysis.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from concbench import console, extra_work, fairness, registry
from concbench.errors import UsageError
from concbench.harness.event_child import run_event_child
from concbench.studies.repetitions import RepetitionPlan, mark_stability
from concbench.results.measurement import add_backend_evidence, add_server_evidence, verdict
from concbench.harness.sampling import ServerSampler
from concbench.clients.native_engine import loadgen_engine
from concbench.harness.server_process import ServerFailed, ServerProcess
from concbench.clients.slow_clients import SlowClients, SlowClientsFailed, add_slow_evidence, describe as describe_slow
from concbench.studies.verify import verify_external


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


# What selects and shapes a suite and where it runs: shared by `run` and `ab` (which forwards them to its runs).
SUITE_LIST_OPTIONS = ("runners", "scenarios", "connections", "sizes", "slow_clients")
SUITE_VALUE_OPTIONS = ("warmup", "duration", "timeout", "slow_step_bytes", "slow_interval", "measure", "requests")
SUITE_CPU_OPTIONS = ("server_cpus", "loadgen_cpus")
SUITE_REPEATED_OPTIONS = ("param", "option")


def profile_default(field: str, unit: str = "") -> str:
    """'default: 0.25 s (--quick 0.2 s, --full 2 s)': a profile setting as the help states it."""
    def value(name):
        given = getattr(PROFILES[name], field)
        return f"{' '.join(map(str, given)) if isinstance(given, tuple) else f'{given:g}'}{unit}"
    return f"default: {value('default')} (--quick {value('quick')}, --full {value('full')})"


def add_suite_arguments(p) -> None:
    from concbench.cli import cpu_list, non_negative_int, positive_float, positive_int
    p.add_argument("--runners", nargs="+", metavar="RUNNER",
                   help="runners, e.g. asyncio twisted, all, or all,-gevent (default: the default suite)")
    p.add_argument("--scenarios", nargs="+", metavar="SCENARIO", help="scenarios (default: the default ones)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="short windows, levels 1-100 (for smoke tests)")
    group.add_argument("--full", action="store_true", help="all sizes, 10 s windows, 5 repetitions")
    p.add_argument("--connections", type=positive_int, nargs="+", metavar="N",
                   help="concurrency levels for every scenario (default: each scenario's own levels, see the README)")
    p.add_argument("--sizes", type=positive_int, nargs="+", metavar="BYTES",
                   help=f"message sizes, for every scenario with a size parameter ({profile_default('sizes')})")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a scenario parameter for every selected scenario that has it, e.g. iterations=3000")
    p.add_argument("--warmup", type=float,
                   help=f"discarded warm-up per measurement, seconds ({profile_default('warmup_s', ' s')})")
    p.add_argument("--duration", type=positive_float,
                   help=f"measuring window per measurement, seconds ({profile_default('window_s', ' s')})")
    p.add_argument("--option", "-O", action="append", default=[], metavar="RUNNER:NAME=VALUE",
                   help="a runner option, e.g. processes:workers=8")
    p.add_argument("--timeout", type=positive_float,
                   help=f"per-request timeout, seconds ({profile_default('timeout_s', ' s')})")
    p.add_argument("--server-cpus", type=cpu_list, help="cpus for the server (default: the first)")
    p.add_argument("--loadgen-cpus", type=cpu_list, help="cpus for the load generator (default: the second)")
    p.add_argument("--slow-clients", type=non_negative_int, nargs="+", metavar="N",
                   help="slow-client levels, e.g. 0 100 1000: N more connections trickle requests a few bytes at a "
                        "time while the fast clients are measured (default: none, not a dimension)")
    p.add_argument("--slow-step-bytes", type=positive_int, help="bytes per slow step (default 4)")
    p.add_argument("--slow-interval", type=positive_float, help="seconds between slow steps (default 0.1)")
    p.add_argument("--measure", choices=("wall", "instructions"),
                   help="wall (default): time windows; instructions: each server under callgrind, instructions per "
                        "verified request (docs/instructions.md)")
    p.add_argument("--requests", type=positive_int, metavar="N",
                   help="--measure instructions: verified requests counted per measurement (default 1000)")


def suite_options(args) -> list[str]:
    """The suite arguments given, as `concbench run` options again (for ab's child runs)."""
    def flag(name):
        return "--" + name.replace("_", "-")
    options = ["--quick"] if args.quick else ["--full"] if args.full else []
    for name in SUITE_LIST_OPTIONS:
        if getattr(args, name):
            options += [flag(name), *map(str, getattr(args, name))]
    for name in SUITE_VALUE_OPTIONS:
        if getattr(args, name) is not None:
            options += [flag(name), str(getattr(args, name))]
    for name in SUITE_CPU_OPTIONS:
        if getattr(args, name):
            options += [flag(name), ",".join(map(str, getattr(args, name)))]
    for name in SUITE_REPEATED_OPTIONS:
        for value in getattr(args, name):
            options += [flag(name), value]
    return options


def add_run_arguments(p) -> None:
    from concbench.cli import positive_float, positive_int
    add_suite_arguments(p)
    p.add_argument("--repetitions", type=positive_int,
                   help="exactly this many repetitions, no stop rule (at least 3 is the rule; default: the "
                        "profile's minimum and maximum)")
    p.add_argument("--min-repetitions", type=positive_int,
                   help="repetitions of every case before the stop rule (default: 3, --full 5)")
    p.add_argument("--max-repetitions", type=positive_int,
                   help="more repetitions, level by level, until the 95%% interval of each runner's median is within "
                        "+-10%% (default: 5, --quick 3, --full 10)")
    p.add_argument("--stability-budget", type=positive_float, metavar="SECONDS",
                   help="time allowed for the extra repetitions (default: 60 s, --full 900 s)")
    p.add_argument("--rates", type=positive_float, nargs="+", metavar="R",
                   help="open loop: offered rates (requests/s in total) to sweep, instead of closed loop")
    p.add_argument("--rate-search", action="store_true",
                   help="open loop: per runner, raise the offered rate until it cannot keep up or p99 passes "
                        "the target, then bisect; reports the capacity at the target")
    p.add_argument("--rate-start", type=positive_float, default=2000.0, help="first rate of --rate-search")
    p.add_argument("--arrival", choices=("uniform", "poisson"), default="uniform", help="open-loop timetable")
    p.add_argument("--p99-target-ms", type=positive_float, default=10.0,
                   help="latency target for capacity (default 10 ms)")
    p.add_argument("--loadgen", choices=("concbench", "wrk"), default="concbench",
                   help="wrk (http scenario, if installed): a cross-check driven by wrk, labelled as such")
    p.add_argument("--loadgen-procs", type=positive_int, default=1,
                   help="load-generator processes per measurement (spread over --loadgen-cpus)")
    p.add_argument("--server-cmd", action="append", default=[], metavar="'NAME=COMMAND {port}'",
                   help="any command as a server (repeatable): started fresh per measurement on the server cpus, "
                        "verified, measured, labelled external; {port} is where it must listen on 127.0.0.1")
    p.add_argument("--engine", choices=("native", "uvloop"),
                   help="load-generator engine (default: native where it is built, else uvloop)")
    p.add_argument("--python", action="append", metavar="PATH",
                   help="run the servers under this interpreter (repeat for several, side by side; each gets its own "
                        "cached environment; runners tagged with the interpreter)")
    p.add_argument("-o", "--output", help="result file (default: results/<scenario>-<time>.json); written after "
                                          "every measurement; an existing file is refused unless --force")
    p.add_argument("--force", action="store_true", help="replace an existing -o file")
    p.add_argument("--resume", metavar="FILE", help="continue an interrupted run: measure only what FILE lacks, "
                                                    "with the plan FILE was run with")
    p.add_argument("--report-dir", metavar="DIR",
                   help="folder for the report (default: reports/ beside -o, or ./reports without -o)")
    p.add_argument("--no-report", action="store_true", help="skip the charts and HTML report")


def add_ceiling_arguments(p) -> None:
    from concbench.cli import positive_float, positive_int
    p.add_argument("--connections", type=positive_int, default=50)
    p.add_argument("--size", type=positive_int, default=64)
    p.add_argument("--duration", type=positive_float, default=3.0)
    p.add_argument("--repetitions", type=positive_int, default=5)
    p.add_argument("--open-loop-rates", type=positive_float, nargs="*", default=[60000.0, 80000.0, 100000.0],
                   metavar="R", help="also run the load generator open loop at these rates (default 60k 80k 100k), "
                                     "and at 0.9x the C client's median of the run")
    p.add_argument("--engine", choices=("native", "uvloop"), help="the engine of the open-loop checks (default: native where built)")


def profile_from_args(args) -> Profile:
    profile = PROFILES["full" if args.full else "quick" if args.quick else "default"]
    changes = {}
    if args.connections:
        changes["connections"] = tuple(args.connections)
        changes["scenario_connections"] = ()
    if args.sizes:
        changes["sizes"] = tuple(args.sizes)
    if args.repetitions:
        changes.update(repetitions=args.repetitions, max_repetitions=args.repetitions)
    if getattr(args, "min_repetitions", None):
        changes["repetitions"] = args.min_repetitions
    if getattr(args, "max_repetitions", None):
        changes["max_repetitions"] = args.max_repetitions
        changes.setdefault("stability_budget_s", profile.stability_budget_s or 3600.0)
    if getattr(args, "stability_budget", None):
        changes["stability_budget_s"] = args.stability_budget
    minimum = changes.get("repetitions", profile.repetitions)
    maximum = changes.get("max_repetitions", profile.max_repetitions) or minimum
    if maximum < minimum:
        raise UsageError(f"--max-repetitions {maximum} is below the minimum of {minimum} repetitions")
    if minimum < 3:
        console.warn(f"{minimum} repetition{'s' if minimum > 1 else ''}: the rule is at least 3; with fewer, an "
                     f"interval is wide or missing and runners cannot be ranked against each other")
    if args.warmup is not None:
        if args.warmup < 0:
            raise UsageError(f"--warmup must be 0 or more, got {args.warmup:g}")
        changes["warmup_s"] = args.warmup
    if args.duration:
        changes["window_s"] = args.duration
    if args.timeout:
        changes["timeout_s"] = args.timeout
    if args.rates:
        changes["rates"] = tuple(args.rates)
    changes["arrival"] = args.arrival
    changes["loadgen_procs"] = args.loadgen_procs
    changes["loadgen"] = args.loadgen
    changes["engine"] = getattr(args, "engine", None)
    if changes["engine"]:
        from concbench.clients.native_engine import resolve
        try:
            resolve(changes["engine"])
        except ValueError as exc:
            raise UsageError(f"--engine {changes['engine']}: {exc}") from None
    changes["p99_target_s"] = args.p99_target_ms / 1e3
    if args.slow_clients:
        changes.update(slow_clients=tuple(dict.fromkeys(args.slow_clients)),
                       slow_step_bytes=args.slow_step_bytes or profile.slow_step_bytes,
                       slow_interval_s=args.slow_interval or profile.slow_interval_s)
    return replace(profile, **changes) if changes else profile


def scenario_extra_params(raw: list[str], scenarios: list[str]) -> dict:
    """--param NAME=VALUE for every selected scenario that has NAME; ValueError if none has it."""
    extra = {}
    for text in raw:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise ValueError(f"--param must be NAME=VALUE, got {text!r}")
        owners = [s for s in scenarios if any(p.name == name for p in registry.SCENARIOS[s].parameters)]
        if not owners:
            raise ValueError(f"no selected scenario has a parameter {name!r}")
        for scenario in owners:
            registry.SCENARIOS[scenario].parse_params({name: value})     # checks the value
        extra[name] = int(value)
    return extra


def runner_options(raw: list[str], runners: list[str]) -> dict[str, dict]:
    options: dict[str, dict] = {name: {} for name in runners}
    for text in raw:
        runner, sep, rest = text.partition(":")
        runner = registry.canonical(runner)
        name, sep2, value = rest.partition("=")
        if not (sep and sep2 and name):
            raise UsageError(f"--option must be RUNNER:NAME=VALUE, got {text!r}")
        if runner not in registry.RUNNERS:
            raise UsageError(f"--option names unknown runner {runner!r}")
        known = [n for n, _ in registry.RUNNERS[runner].options] + [extra_work.OPTION]   # the test double
        if name not in known:
            raise UsageError(f"runner {runner} has no option {name!r} (options: {', '.join(known) or 'none'})")
        options.setdefault(runner, {})[name] = value
    return options


def plan_cases(scenarios: list[str], runners: list[str], profile: Profile, extra: dict | None = None,
               named: set[str] | None = None) -> list[Case]:
    """Every applicable (scenario, params, connections, runner) cell, in a stable order.

    `named`: the runners the user named; any other runner only runs the scenarios whose default
    suite it is in (the pool variants: backend). None: every runner counts as named."""
    cases = []
    extra = extra or {}
    for scenario_name in scenarios:
        scenario = registry.SCENARIOS[scenario_name]
        names = {p.name for p in scenario.parameters}
        fixed = {k: v for k, v in extra.items() if k in names}
        param_sets = ([{**fixed, "size": s} for s in profile.sizes] if "size" in names else [fixed])
        for given in param_sets:
            params = tuple(sorted(scenario.parse_params(given).items()))
            for connections in profile.levels(scenario_name):
                for rate in profile.rates:
                    for runner in runners:
                        if named is not None and runner not in named and \
                                not registry.in_default_suite(runner, scenario_name):
                            continue
                        if registry.applicable(runner, scenario_name) is None:
                            cases.extend(Case(scenario_name, params, connections, runner, rate, slow)
                                         for slow in profile.slow_clients)
    return cases


def rotated(items: list, by: int) -> list:
    by %= len(items) if items else 1
    return items[by:] + items[:by]


def schedule(cases: list[Case], runners: list[str], repetitions: int) -> list[tuple[int, Case]]:
    """Repetition-major order; within a repetition the order of the runners measured in each scenario
    is rotated by one each time (rotated among those runners only, so every one of them leads in turn)."""
    in_scenario = {scenario: [r for r in runners if any(c.runner == r and c.scenario == scenario for c in cases)]
                   for scenario in {c.scenario for c in cases}}
    order = []
    for rep in range(repetitions):
        rank = {(scenario, name): i for scenario, names in in_scenario.items()
                for i, name in enumerate(rotated(names, rep))}
        cells = sorted(cases, key=lambda c: (c.scenario, c.params, c.connections, c.rate or 0, c.slow_clients or 0,
                                             rank[(c.scenario, c.runner)]))
        order.extend((rep, case) for case in cells)
    return order


def run_loadgen(case: Case, port: int, profile: Profile, loadgen_cpus, on_event) -> dict:
    """Run `concbench load --events` in its own process; returns its result (or a failed record)."""
    command = [sys.executable, "-m", "concbench", "load", case.scenario, "--target", f"127.0.0.1:{port}",
               "--connections", str(case.connections), "--duration", str(profile.window_s),
               "--warmup", str(profile.warmup_s), "--timeout", str(profile.timeout_s),
               "--cpus", ",".join(map(str, loadgen_cpus)), "--events"]
    for name, value in case.params:
        command += ["--param", f"{name}={value}"]
    if case.rate:
        command += ["--rate", repr(case.rate), "--arrival", profile.arrival]
    if profile.loadgen_procs > 1:
        command += ["--loadgen-procs", str(profile.loadgen_procs)]
    if profile.engine:
        command += ["--engine", profile.engine]
    deadline_s = profile.warmup_s + profile.window_s + 2 * profile.timeout_s + 30.0
    result, reason = run_event_child(command, deadline_s, on_event, "load generator")
    return result if result is not None else failed_record(case, reason)


def failed_record(case: Case, reason: str) -> dict:
    return {"status": "failed", "first_error": reason, "errors": 1, "error_kinds": {"harness": 1},
            "requests": 0, "throughput_rps": 0.0, "window_s": 0.0, "connections": case.connections}


def measure(case: Case, profile: Profile, server_cpus, loadgen_cpus, options: dict) -> dict:
    """One measurement: a fresh server, the load, the server evidence around the window.

    A scenario that needs a backend gets a fresh backend service on the load generator's cpus, started
    before the server and stopped after it; its call count is checked against the verified replies."""
    backend = None
    if registry.SCENARIOS[case.scenario].needs_backend:
        from concbench.harness.backend_service import BackendFailed, BackendProcess
        try:
            backend = BackendProcess(loadgen_cpus).start()
        except BackendFailed as exc:
            return failed_record(case, f"backend: {exc}")
    try:
        record = measure_server(case, profile, server_cpus, loadgen_cpus, options,
                                backend.address if backend else None)
    finally:
        calls = backend.stop() if backend else None
    if backend is not None:
        record = add_backend_evidence(record, calls)
    return record


def measure_server(case: Case, profile: Profile, server_cpus, loadgen_cpus, options: dict, backend) -> dict:
    command = registry.RUNNERS[case.runner].command
    if command is not None:            # --server-cmd: started, pinned and verified by external_server
        from concbench.harness.external_server import CommandServer
        server = CommandServer(case.runner, command, case.scenario, dict(case.params), server_cpus, backend=backend,
                               check=lambda port: verify_external(case.scenario, dict(case.params), port))
    else:
        server = ServerProcess(case.runner, case.scenario, dict(case.params), server_cpus, options, backend=backend)
    try:
        server.start()
    except ServerFailed as exc:
        return failed_record(case, f"server: {exc}")
    slow = None
    try:
        if case.slow_clients:   # connected and trickling before the fast clients start; stopped after they end
            slow = start_slow_clients(case, server.port, profile, loadgen_cpus)
        sampler = ServerSampler(server.pid, server_cpus)
        evidence: dict = {}
        marks = {"started": time.monotonic()}            # when the window started and ended, for a death's time

        def on_event(name):
            marks[name] = time.monotonic()
            if name == "window_start":
                sampler.start()
            elif name == "window_end":
                evidence.update(sampler.stop())

        if profile.loadgen == "wrk":
            from concbench.clients import wrk
            try:
                record = wrk.run(f"http://127.0.0.1:{server.port}/plaintext", case.connections,
                                 profile.warmup_s, profile.window_s, loadgen_cpus, on_event)
            except (RuntimeError, ValueError, subprocess.SubprocessError) as exc:
                record = failed_record(case, f"wrk: {exc}")
        else:
            record = run_loadgen(case, server.port, profile, loadgen_cpus, on_event)
        if slow is not None:
            record = add_slow_evidence(record, case.slow_clients, slow.finish(), profile.slow_step_bytes,
                                       profile.slow_interval_s)
        if not server.alive():
            record = server_died(case, record, server, marks)
        elif evidence:
            record = add_server_evidence(record, evidence, len(server_cpus))
        if "pool" in server.ready_fields:
            record["server_pool"] = server.ready_fields["pool"]
    except SlowClientsFailed as exc:
        record = failed_record(case, f"slow clients: {exc}")
    finally:
        if slow is not None:
            slow.close()
        server.stop()
    return record


def server_died(case: Case, record: dict, server, marks: dict | None = None) -> dict:
    """The server was dead when the load ended: failed, with how and when it ended ('killed by SIGKILL 1.5 s into
    the window', from the server's death watch and the load generator's window marks), its last stderr lines, and
    the load generator's own evidence (requests, errors, its first error) kept beside it."""
    from concbench.harness.child import when
    server.proc.poll()
    died_at = getattr(server, "died_at", None)
    if died_at is not None and marks:
        moment = when(died_at, marks["started"], marks.get("window_start"), marks.get("window_end"))
    else:
        moment = "during the measurement"
    cause = f"server {server.death()} {moment}; last stderr: {server.last_words(3)}"
    if record.get("first_error"):
        cause += f"; the load generator saw: {record['first_error']}"
    kept = {k: v for k, v in record.items() if k not in ("status", "first_error")} if "requests" in record else {}
    failed = failed_record(case, cause)
    failed.update({k: v for k, v in kept.items() if k not in ("error_kinds", "errors")})
    failed["errors"] = record.get("errors", 0) + 1
    failed["error_kinds"] = {**record.get("error_kinds", {}), "server_died": 1}
    return failed


def start_slow_clients(case: Case, port: int, profile: Profile, loadgen_cpus) -> SlowClients:
    """The trickler, connected and trickling (its ready line read); bounded so it outlives the fast clients'
    whole run (ramp-up, warm-up, window, drain) and then stops by itself even if nobody tells it."""
    deadline_s = profile.warmup_s + profile.window_s + 2 * profile.timeout_s + 60.0 + case.slow_clients / 100
    slow = SlowClients(case.scenario, dict(case.params), "127.0.0.1", port, case.slow_clients, loadgen_cpus,
                       step_bytes=profile.slow_step_bytes, interval_s=profile.slow_interval_s,
                       reply_timeout_s=profile.timeout_s, deadline_s=deadline_s)
    try:
        slow.ready()
    except SlowClientsFailed:
        slow.close()
        raise
    return slow


SEARCH_MAX_PROBES = 10
SEARCH_RESOLUTION = 1.1        # stop bisecting when the bracket is within 10%


def search_capacity(case: Case, profile: Profile, measure_probe) -> list[tuple[Case, dict]]:
    """Double the offered rate until a probe misses (overloaded, failed or p99 over target), then bisect."""
    from concbench.analysis.capacity import meets_target
    probes = []
    low, high, rate = 0.0, None, profile_start_rate(profile)
    for _ in range(SEARCH_MAX_PROBES):
        probe = replace(case, rate=round(rate))
        record = measure_probe(probe)
        probes.append((probe, record))
        if meets_target(record, profile.p99_target_s):
            low = probe.rate
        else:
            high = probe.rate
        if high is None:
            rate = low * 2
        elif low == 0:
            rate = high / 2
            if rate < 1:
                break
        elif high / low <= SEARCH_RESOLUTION:
            break
        else:
            rate = (low + high) / 2
    return probes


def profile_start_rate(profile: Profile) -> float:
    return profile.rates[0] if profile.rates and profile.rates[0] else 2000.0


def format_progress(done: int, total: int, started: float, rep: int, reps: int, case: Case,
                    measured: int | None = None, todo: int | None = None) -> str:
    """done: slots of the plan measured; measured/todo: of those this invocation measures (for the time left)."""
    elapsed = time.monotonic() - started
    if measured is None:
        measured, todo = done, total
    eta = elapsed / measured * (todo - measured) if measured else float("nan")
    eta_text = f"{int(eta) // 60:02d}:{int(eta) % 60:02d}" if measured else "--:--"
    return (f"[{done + 1:>3}/{total} {int(elapsed) // 60:02d}:{int(elapsed) % 60:02d} left {eta_text}] "
            f"rep {rep + 1}/{reps} {case.label():<22} {case.runner:<20}")


def format_outcome(record: dict) -> str:
    word = verdict(record)
    if record["status"] != "ok":
        detail = record.get("first_error", "")
        if record.get("starved_connections"):
            starved = f"{record['starved_connections']}/{record['connections']}"
            detail = (f"fast clients starved: {starved} connections never served; {detail}" if record.get("slow_clients")
                      else f"{starved} connections starved; {detail}")
        return f"{word.upper()}: {detail}" + (f"  [{describe_slow(record)}]" if record.get("slow_clients") else "")
    offered = ""
    if record.get("offered_rate"):
        offered = (f" of {record['offered_rate']:,.0f} ({100 * record['achieved_ratio']:.1f}%)"
                   f"{' OVERLOADED' if record.get('overloaded') else ''}")
    backend = ""
    if "backend_calls" in record:      # the backend scenario: the server's pool and the validity evidence
        backend = f"  pool {record.get('server_pool', '-')}  backend calls/reply {record['backend_calls_per_reply']:.2f}"
    return (f"{record['throughput_rps']:>9,.0f} req/s{offered}  p99 {record['latency_p99_s'] * 1e3:7.2f} ms  "
            f"server cpu {record.get('server_cpu_pct', 0):3.0f}%  client core {record['loadgen_core_busy_pct']:3.0f}%"
            f"{'  CLIENT-BOUND' if record.get('client_bound') else ''}{backend}"
            + (f"  [{describe_slow(record)}]" if record.get("slow_clients") else ""))


def check_slow_clients(profile: Profile, cases: list[Case], limit: int) -> None:
    """--slow-clients: the server holds fast and slow connections at once; only keep-alive scenarios."""
    from concbench.clients.slow_clients import open_files_needed
    most = max((n for n in profile.slow_clients if n), default=0)
    if not most:
        return
    fast = max(case.connections for case in cases)
    needed = open_files_needed(fast, most)
    if needed > limit:
        raise UsageError(f"{fast} connections and {most} slow clients need {needed} open files; "
                         f"the limit is {limit}: raise it (ulimit -Hn) or use fewer slow clients")
    scenarios = sorted({case.scenario for case in cases})
    churning = [s for s in scenarios if registry.SCENARIOS[s].client_workload(
        registry.SCENARIOS[s].parse_params()).connection_per_request]
    if churning:
        raise UsageError(f"--slow-clients needs keep-alive scenarios; {', '.join(churning)} opens a connection per request")


def default_output(scenarios: list[str]) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = "-".join(scenarios) if len(scenarios) <= 2 else "suite"
    return Path("results") / f"{name}-{stamp}.json"


def without_other_measures(named, scenarios: list[str]) -> list[str]:
    """Drop scenarios another command measures (stream: `concbench backpressure`) from `all`; refuse them by name."""
    for raw in named or []:
        for name in filter(None, (part.strip() for part in raw.split(","))):
            measured_by = name in registry.SCENARIOS and registry.SCENARIOS[name].measured_by
            if measured_by:
                raise ValueError(f"the {name} scenario is measured by `{measured_by}`, not by run (its closed-loop "
                                 f"load generator cannot drive it)")
    kept = [s for s in scenarios if not registry.SCENARIOS[s].measured_by]
    if not kept:
        raise ValueError("the selection leaves no scenario")
    return kept


# `run`'s exit codes (docs/robustness.md): 0 every case measured with at least one passing repetition;
# 2 bad input (nothing started); 4 a runner failed every repetition of a case (named on stderr): it could not
# start, died, or answered wrongly (a measured limit such as starved connections or timeouts is a result, exit 0);
# 5 the result file could not be written during the run (the last written copy is kept);
# 128 + signal when interrupted (130 SIGINT, 143 SIGTERM, 129 SIGHUP), the file marked `interrupted after k of n`.
EXIT_CASE_FAILED = 4
EXIT_WRITE_FAILED = 5


def cmd_run(args) -> int:
    from concbench.studies import preflight
    from concbench.results import run_file
    from concbench.results.format import RunContext
    previous = None
    if args.resume and args.output:
        raise UsageError("--resume FILE writes to FILE itself; drop -o")
    if args.resume:
        previous = run_file.read_previous(args.resume)
        args = resume_arguments(args, previous)
    if getattr(args, "python", None):       # several interpreters: concbench.studies.interpreters runs this command per one
        from concbench.studies.interpreters import run_with_pythons
        return run_with_pythons(args)
    try:
        scenarios = without_other_measures(args.scenarios, registry.select(args.scenarios, registry.SCENARIOS, "scenario"))
        commands = command_runners(getattr(args, "server_cmd", None) or [])
        if commands and not args.runners:
            runners = commands             # only the commands, unless runners are named beside them
        else:
            runners = registry.select(args.runners, registry.RUNNERS, "runner", registry.default_runners_for(scenarios))
            runners += [name for name in commands if name not in runners]
        named = registry.named_runners(args.runners) | set(commands)
        profile = profile_from_args(args)
        extra = scenario_extra_params(args.param, scenarios)
        cases = plan_cases(scenarios, runners, profile, extra, named)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    options = runner_options(args.option, runners)
    preflight.check_runner_options(options)
    default_server, default_loadgen = fairness.default_cpu_split()
    server_cpus = args.server_cpus or default_server
    loadgen_cpus = args.loadgen_cpus or default_loadgen
    limit = fairness.raise_open_file_limit()
    most = max((case.connections for case in cases), default=0)
    if most + 64 > limit:
        raise UsageError(f"{most} connections need more open files than the limit ({limit})")
    if not cases:
        raise UsageError("no runner applies to the selected scenarios")
    check_slow_clients(profile, cases, limit)
    if profile.loadgen == "wrk":
        from concbench.clients import wrk
        if not wrk.available():
            raise UsageError("--loadgen wrk needs wrk on PATH (Debian: apt-get install wrk)")
        if scenarios != ["http"] or profile.rates != (None,) or args.rate_search:
            raise UsageError("--loadgen wrk drives the http scenario in closed loop only (--scenarios http)")
    instructions = None      # --measure instructions: its settings; the measurement hook is its own
    if getattr(args, "requests", None) and getattr(args, "measure", None) != "instructions":
        raise UsageError("--requests counts requests for --measure instructions; wall-clock runs use --duration")
    if getattr(args, "measure", None) == "instructions":
        from concbench.studies import instructions as instructions_mode
        instructions = instructions_mode.prepare(args, profile, runners)
        if instructions is None:
            return 0             # valgrind missing or too old: one line said so, the mode is skipped
        profile, settings, runners = instructions
        profile = replace(profile, max_repetitions=profile.repetitions)   # counts are deterministic: no stop rule
        cases = plan_cases(scenarios, runners, profile, extra, named)
    if args.rate_search:
        profile = replace(profile, rates=(args.rate_start,))
        cases = [replace(c, rate=None) for c in plan_cases(scenarios, runners, replace(profile, rates=(None,)), extra,
                                                           named)]
    measurements = []      # every (case, record) of the plan, the resumed file's included: the stop rule reads them
    if previous is not None:
        measurements.extend(previous.pairs)
    maximum = profile.repetitions if args.rate_search else (profile.max_repetitions or profile.repetitions)
    order = RepetitionPlan(cases, profile.repetitions, maximum, profile.stability_budget_s, measurements,
                           lambda some, n: schedule(some, runners, n))      # capacity searches: no stop rule
    plan_id = run_file.plan_identity(order.planned, profile, options, server_cpus, loadgen_cpus, args.rate_search)
    if previous is not None:
        output = Path(args.resume)
        if previous.plan_id != plan_id:
            raise UsageError(f"cannot resume {output}: it was measured with a different plan; resume it with the "
                             f"options it was run with (concbench run {' '.join(run_file.strip_output_options(previous.run_args))}) "
                             f"or with none")
        preflight.check_output(output, max(len(order) - len(previous.done), 1), existing_ok=True)
    elif args.output:
        output = Path(args.output)
        preflight.check_output(output, order.maximum * len(cases), force=args.force)
    else:
        output = preflight.unique_path(default_output(scenarios))
        preflight.check_output(output, order.maximum * len(cases))
    fairness.pin_to_cpus(loadgen_cpus)   # the orchestrator's own sampling stays off the server's cores
    what = (f"{len(order)} capacity searches (up to {SEARCH_MAX_PROBES} probes each, p99 target "
            f"{profile.p99_target_s * 1e3:g} ms)" if args.rate_search else f"{len(order)} measurements")
    reps_text = (f"{profile.repetitions}-{order.maximum} repetitions (until stable)" if order.maximum > order.minimum
                 else f"{profile.repetitions} repetitions")
    print(f"concbench run: {len(cases)} cases x {reps_text} = {what} "
          f"({profile.name} profile: warm-up {profile.warmup_s:g} s, window {profile.window_s:g} s); "
          f"server on cpu {','.join(map(str, server_cpus))}, load generator on cpu {','.join(map(str, loadgen_cpus))}",
          flush=True)
    if previous is not None:
        print(f"resuming {output} ({previous.state}): {len(previous.done)} of {len(order)} measured, "
              f"{len(order) - len(previous.done)} to go", flush=True)
    print(f"results: {output} (written after every measurement)", flush=True)
    if set(server_cpus) & set(loadgen_cpus):
        print("warning: server and load generator share a cpu; figures mix both", flush=True)
    context = RunContext.collect(profile, runners, scenarios, server_cpus, loadgen_cpus, options, sys.argv,
                                 loadgen_engine(profile.engine))
    context.metadata.update(plan_id=plan_id, planned_measurements=len(order),
                            run_args=json.dumps(run_file.strip_output_options(getattr(args, "argv", None) or [])))
    hooks = (measure, format_outcome)
    if instructions:
        hooks = instructions_mode.hooks(settings)
        context.metadata.update(instructions_mode.context_metadata(settings))
    writer = run_file.RunFile(output, context, len(order), previous)
    code, unstable = measure_all(args, order, measurements, profile, server_cpus, loadgen_cpus, options, writer,
                                 hooks)
    if code:
        return code
    if instructions:
        from concbench.analysis.instructions import instructions_table
        print(f"\nfinished {writer.count} of {len(order)} measurements; results: {output}\n")
        print(instructions_table(output))
        return 0
    return finish_run(args, output, writer, order, unstable)


def resume_arguments(args, previous):
    """--resume: the plan options given now, or (none given) the ones the file was run with."""
    from concbench.results import run_file
    from concbench.cli import build_parser
    argv = run_file.resume_argv(list(getattr(args, "argv", None) or []), previous)
    planned = build_parser().parse_args(["run", *argv])
    for name in ("resume", "force", "no_report", "report_dir", "output", "argv"):
        setattr(planned, name, getattr(args, name, None))
    planned.argv = ["run", *argv]
    return planned


def measure_all(args, order, measurements, profile, server_cpus, loadgen_cpus, options, writer,
                hooks=None) -> tuple[int, int]:
    """Every slot of the plan not measured yet (order grows while the stop rule asks for more), the file
    rewritten after each; (0, unstable cases), or (the exit code of an interrupt or of a failed write, 0).
    hooks: (measure a case, describe its record in one line); the wall-clock ones unless told otherwise."""
    measure_case, outcome_line = hooks or (measure, format_outcome)
    from concbench.harness import lifecycle
    from concbench.results.format import case_name
    from concbench.results.run_file import COMPLETE, slot_of
    started = time.monotonic()
    already = writer.count
    with lifecycle.interruptible():
        try:
            measured = 0
            for rep, case in order:
                slot = slot_of(rep, case_name(case))
                if slot in writer.done:
                    continue

                def measure_one(probe: Case) -> dict:
                    console.progress(format_progress(writer.count, len(order), started, rep,
                                                     max(order.maximum, rep + 1), probe, measured,
                                                     len(order) - already), end=" ", flush=True)
                    measure_started = time.monotonic()
                    record = measure_case(probe, profile, server_cpus, loadgen_cpus, case_options(probe, options))
                    record.update(repetition=rep, slot=slot, measured_wall_s=time.monotonic() - measure_started,
                                  measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
                    console.progress(outcome_line(record), flush=True)
                    console.detail(f"    evidence: {record.get('requests', 0):,} verified replies in "
                                   f"{record.get('window_s', 0):.2f} s, {record.get('errors', 0)} errors, served "
                                   f"{record.get('served_connections', '?')}/{record.get('connections', '?')} "
                                   f"connections, server cpu {record.get('server_cpu_pct', 0):.0f}%, load generator "
                                   f"cpu {record.get('loadgen_cpu_pct', 0):.0f}%, server PSS "
                                   f"{record.get('server_pss_bytes', 0) / (1 << 20):.1f} MiB", flush=True)
                    return record

                new = search_capacity(case, profile, measure_one) if args.rate_search else [(case, measure_one(case))]
                measurements.extend(new)           # before the file: the stop rule reads them for the next round
                writer.add(slot, new)
                measured += 1
            unstable = mark_stability(measurements)
            writer.restate_previous(measurements)
            writer.finish(COMPLETE)
        except lifecycle.Interrupted as exc:
            lifecycle.stop_all()
            print(f"\nconcbench run: {exc.name} received; the measurement under way was abandoned and every "
                  f"child process stopped", file=sys.stderr, flush=True)
            try:
                writer.finish(f"interrupted after {writer.count} of {len(order)} ({exc.name})")
            except OSError as write_exc:
                print(f"concbench run: cannot write {writer.path}: {write_exc.strerror or write_exc}; the last "
                      f"written copy is there", file=sys.stderr)
            if writer.count:
                print(f"concbench run: interrupted after {writer.count} of {len(order)} measurements; results: "
                      f"{writer.path}\n  continue with: concbench run --resume {writer.path}", file=sys.stderr,
                      flush=True)
            else:
                print("concbench run: interrupted before the first measurement finished; no result file written",
                      file=sys.stderr, flush=True)
            return exc.exit_code, 0
        except OSError as exc:
            lifecycle.stop_all()
            print(f"\nconcbench run: cannot write {writer.path}: {exc.strerror or exc}; stopped after "
                  f"{writer.count} of {len(order)} measurements (the last written copy keeps what was written)",
                  file=sys.stderr, flush=True)
            return EXIT_WRITE_FAILED, 0
        except Exception as exc:       # a harness bug: keep what was measured, say where, then the traceback
            lifecycle.stop_all()
            if writer.count:
                writer.finish(f"crashed after {writer.count} of {len(order)} ({exc.__class__.__name__})")
                print(f"\nconcbench run: crashed after {writer.count} of {len(order)} measurements; results: "
                      f"{writer.path} (concbench run --resume {writer.path} measures the rest)", file=sys.stderr)
            raise
    return 0, unstable


def finish_run(args, output, writer, order, unstable: int) -> int:
    from concbench.analysis.report import write_report
    from concbench.analysis.table import summary_table
    from concbench.results.format import load_measurements
    from concbench.results.run_file import failed_every_repetition
    print(f"\nfinished {writer.count} of {len(order)} measurements; {order.describe()}; {unstable} case(s) "
          f"unstable; results: {output}\n")
    print(summary_table(output))
    records = load_measurements(output)
    if any(r.get("offered_rate") for r in records):
        from concbench.analysis.capacity import capacity_table
        print("\n" + capacity_table(output))
    if not args.no_report:
        report_dir = args.report_dir or (Path(output).parent / "reports" if args.output or args.resume else "reports")
        print_report_paths(write_report(output, report_dir))
    failed = [] if args.rate_search else failed_every_repetition(records)
    if failed:
        print(f"\nconcbench run: the runner failed every repetition of {len(failed)} case(s) "
              f"(exit {EXIT_CASE_FAILED}):",
              file=sys.stderr)
        for name in failed:
            print(f"  {name}", file=sys.stderr)
        return EXIT_CASE_FAILED
    return 0


def command_runners(raw: list[str]) -> list[str]:
    """Register each --server-cmd NAME=COMMAND as an external runner; their names (ValueError if malformed)."""
    from concbench.harness.external_server import parse_server_cmd
    names = []
    for text in raw:
        name, command = parse_server_cmd(text)
        if name in names:
            raise ValueError(f"--server-cmd name {name!r} is given twice")
        registry.add_command_runner(name, command)
        names.append(name)
    return names


def case_options(case: Case, options: dict) -> dict:
    """The runner's options for one measurement: a runner sized to the offered connections is told them."""
    chosen = dict(options.get(case.runner, {}))
    if registry.RUNNERS[case.runner].has("worker_per_connection"):
        chosen.setdefault("connections", str(case.connections))
    return chosen


def print_report_paths(paths) -> None:
    print("\nreport:")
    for path in paths:
        print(f"  {path}")


def cmd_report(args) -> int:
    from concbench.analysis.report import write_report
    from concbench.results.format import NotAResult
    for path in args.results:
        try:
            print_report_paths(write_report(path, args.output))   # by the file's kind (concbench.analysis.views)
        except NotAResult as exc:
            raise UsageError(str(exc)) from None
    return 0


def cmd_show(args) -> int:
    from concbench.analysis.views import show_text
    from concbench.results.format import NotAResult
    try:
        print(show_text(args.result))     # the table of the file's kind; an unfinished run says how to finish it
    except NotAResult as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_ceiling(args) -> int:
    from concbench.studies.ceiling import run_ceiling
    return run_ceiling(args)


COMMANDS = {"run": cmd_run, "ceiling": cmd_ceiling, "report": cmd_report, "show": cmd_show}
