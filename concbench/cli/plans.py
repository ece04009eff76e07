"""Arguments turned into frozen plans (concbench.studies.plans): the runners and scenarios selected, the profile with
the options applied, runner options and scenario parameters parsed, cpus chosen, the output options; and the `run`
options again as arguments, for the children of `ab` and `run --python`.

It owns every check that needs only the arguments and the registry (UsageError, or BadInput for ab: one line, nothing
started); what needs the machine (open files, disk, the native engine, valgrind, wrk) is checked by the study before
it starts.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import replace

from concbench import console, extra_work, fairness, registry
from concbench.errors import BadInput, UsageError
from concbench.harness.external_server import parse_server_cmd
from concbench.studies.plans import (BACKPRESSURE_SLOW_LEVELS, GIB, INSTRUCTIONS_LEVELS, MEMORY_LEVELS,
                                     MEMORY_PROCESS_LEVELS, AbPlan, BackpressurePlan, CeilingPlan, ClientsPlan,
                                     ComparePlan, Destination, LoadCommandPlan, MemoryPlan, PythonsPlan, RegressPlan,
                                     RunPlan, VerifyPlan)
from concbench.studies.profiles import PROFILES, Profile

# What selects and shapes a suite and where it runs: shared by `run` and `ab` (which forwards them to its runs).
SUITE_LIST_OPTIONS = ("runners", "scenarios", "connections", "sizes", "slow_clients")
SUITE_VALUE_OPTIONS = ("warmup", "duration", "timeout", "slow_step_bytes", "slow_interval", "measure", "requests")
SUITE_CPU_OPTIONS = ("server_cpus", "loadgen_cpus")
SUITE_REPEATED_OPTIONS = ("param", "option")


def destination(args) -> Destination:
    """The output options of a command that writes a result file (-o, --force, --resume, the report)."""
    return Destination(output=args.output, force=args.force, previous=getattr(args, "previous", None),
                       report_dir=getattr(args, "report_dir", None),
                       no_report=getattr(args, "no_report", False) or getattr(args, "no_chart", False),
                       run_args=tuple(args.run_args), command_line=tuple(args.command_line))


def cpus(args) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(server cpus, load-generator cpus): as given, else the first cpu and the second (concbench.fairness)."""
    default_server, default_loadgen = fairness.default_cpu_split()
    return (getattr(args, "server_cpus", None) or default_server,
            getattr(args, "loadgen_cpus", None) or default_loadgen)


def select_runners(names, defaults: list[str]) -> list[str]:
    try:
        return registry.select(names, registry.RUNNERS, "runner", defaults)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def runner_options(raw: list[str], runners: list[str]) -> dict[str, dict]:
    """-O RUNNER:NAME=VALUE -> runner -> {name: value}, every runner selected with an entry."""
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


def scenario_params(scenario: str, args) -> dict:
    """--size and --param NAME=VALUE of one scenario (serve, load), checked by the scenario."""
    given = dict(getattr(args, "param", []) or [])
    if getattr(args, "size", None) is not None:
        given["size"] = args.size
    try:
        return registry.SCENARIOS[scenario].parse_params(given)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


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


def command_runners(raw: list[str]) -> list[str]:
    """Register each --server-cmd NAME=COMMAND as an external runner; their names (ValueError if malformed)."""
    names = []
    for text in raw:
        name, command = parse_server_cmd(text)
        if name in names:
            raise ValueError(f"--server-cmd name {name!r} is given twice")
        registry.add_command_runner(name, command)
        names.append(name)
    return names


def profile_from_args(args) -> Profile:
    """The profile (--quick, --full or the default) with the options that change it applied."""
    profile = PROFILES["full" if args.full else "quick" if args.quick else "default"]
    changes = {}
    if args.connections:
        changes["connections"] = tuple(args.connections)
        changes["scenario_connections"] = ()
    elif args.measure == "instructions":     # one connection, and one level where the count stays stable
        changes.update(connections=INSTRUCTIONS_LEVELS, scenario_connections=())
    if args.sizes:
        changes["sizes"] = tuple(args.sizes)
    if args.repetitions:
        changes.update(repetitions=args.repetitions, max_repetitions=args.repetitions)
    if args.min_repetitions:
        changes["repetitions"] = args.min_repetitions
    if args.max_repetitions:
        changes["max_repetitions"] = args.max_repetitions
        changes.setdefault("stability_budget_s", profile.stability_budget_s or 3600.0)
    if args.stability_budget:
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
    if args.rate_search:
        changes["rates"] = (args.rate_start,)      # the first rate of each search
    changes.update(arrival=args.arrival, loadgen_procs=args.loadgen_procs, loadgen=args.loadgen, engine=args.engine,
                   p99_target_s=args.p99_target_ms / 1e3)
    if args.slow_clients:
        changes.update(slow_clients=tuple(dict.fromkeys(args.slow_clients)),
                       slow_step_bytes=args.slow_step_bytes or profile.slow_step_bytes,
                       slow_interval_s=args.slow_interval or profile.slow_interval_s)
    return replace(profile, **changes)


def check_instructions_options(args) -> None:
    """--measure instructions counts a closed loop of its own client; --requests belongs to it only."""
    if args.requests and args.measure != "instructions":
        raise UsageError("--requests counts requests for --measure instructions; wall-clock runs use --duration")
    if args.measure != "instructions":
        return
    if args.rates or args.rate_search:
        raise UsageError("--measure instructions drives a closed loop: no --rates or --rate-search")
    if args.slow_clients:
        raise UsageError("--measure instructions counts the fast requests only: no --slow-clients")
    if args.loadgen != "concbench" or args.loadgen_procs != 1:
        raise UsageError("--measure instructions drives its own counted client: no --loadgen or --loadgen-procs")


def run_plan(args) -> RunPlan:
    try:
        scenarios = without_other_measures(args.scenarios,
                                           registry.select(args.scenarios, registry.SCENARIOS, "scenario"))
        commands = command_runners(args.server_cmd or [])
        if commands and not args.runners:
            runners = commands             # only the commands, unless runners are named beside them
        else:
            runners = registry.select(args.runners, registry.RUNNERS, "runner", registry.default_runners_for(scenarios))
            runners += [name for name in commands if name not in runners]
        named = registry.named_runners(args.runners) | set(commands)
        extra = scenario_extra_params(args.param, scenarios)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    check_instructions_options(args)
    profile = profile_from_args(args)
    server_cpus, loadgen_cpus = cpus(args)
    return RunPlan(tuple(scenarios), tuple(runners), profile, server_cpus, loadgen_cpus, frozenset(named),
                   tuple(extra.items()), runner_options(args.option, runners), args.rate_search,
                   args.measure or "wall", args.requests, destination(args))


def pythons_plan(args) -> PythonsPlan:
    """`run --python`: each round a `concbench run` of one repetition with these options, per interpreter."""
    if args.rates or args.rate_search or args.loadgen != "concbench":
        raise UsageError("--python runs the closed-loop suite (no --rates, --rate-search or --loadgen wrk)")
    return PythonsPlan(tuple(args.python), args.output, tuple(args.scenarios or ["suite"]), args.repetitions or 3,
                       tuple(suite_options(args)), tuple(suite_options(args, with_runners=False)),
                       tuple(args.runners or ()), args.measure or "wall", args.no_report)


def suite_options(args, with_runners: bool = True) -> list[str]:
    """The suite arguments given, as `concbench run` options again (for ab's and run --python's child runs)."""
    def flag(name):
        return "--" + name.replace("_", "-")
    options = ["--quick"] if args.quick else ["--full"] if args.full else []
    for name in SUITE_LIST_OPTIONS:
        if getattr(args, name) and (with_runners or name != "runners"):
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


def memory_plan(args) -> MemoryPlan:
    runners = select_runners(args.runners, registry.default_memory_runners())
    reference = [r for r in runners if registry.RUNNERS[r].has("reference")]
    if reference:
        raise UsageError(f"{reference[0]} is not a Python model and is not measured for memory; drop it")
    for runner in runners:
        reason = registry.applicable(runner, "echo")
        if reason:
            raise UsageError(f"{runner} cannot hold echo connections ({reason}); drop it")
    if args.warm < 0:
        raise UsageError(f"--warm must be 0 or more, got {args.warm}")
    levels = tuple(sorted(set(args.levels or MEMORY_LEVELS)))
    process_levels = tuple(sorted(set(args.process_levels or MEMORY_PROCESS_LEVELS)))
    server_cpus, loadgen_cpus = cpus(args)
    return MemoryPlan(tuple(runners), levels, process_levels, args.repetitions, args.warm, server_cpus, loadgen_cpus,
                      runner_options(args.option, runners), destination(args))


def backpressure_plan(args) -> BackpressurePlan:
    runners = select_runners(args.runners, registry.default_stream_runners())
    given = {k: v for k, v in (("size", args.size), ("chunk", args.chunk)) if v is not None}
    try:
        params = registry.SCENARIOS["stream"].parse_params(given)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for runner in runners:
        reason = registry.applicable(runner, "stream")
        if reason:
            raise UsageError(f"{runner} cannot serve stream ({reason}); drop it")
    levels = tuple(sorted(set(args.slow if args.slow is not None else BACKPRESSURE_SLOW_LEVELS)))
    if min(levels) < 0:
        raise UsageError(f"--slow must be 0 or more, got {min(levels)}")
    if args.fast < 0:
        raise UsageError(f"--fast must be 0 or more, got {args.fast}")
    if args.fast == 0 and max(levels) == 0:
        raise UsageError("no reader at all: give --fast 1 or more, or a --slow level above 0")
    if args.warmup < 0:
        raise UsageError(f"--warmup must be 0 or more, got {args.warmup:g}")
    server_cpus, loadgen_cpus = cpus(args)
    return BackpressurePlan(tuple(runners), params, levels, args.fast, float(args.slow_rate), args.slow_rcvbuf,
                            args.repetitions, args.warmup, args.window, int(args.memory_budget * GIB),
                            server_cpus, loadgen_cpus, runner_options(args.option, runners), destination(args))


def ceiling_plan(args) -> CeilingPlan:
    server_cpus, loadgen_cpus = fairness.default_cpu_split()
    return CeilingPlan(args.connections, args.size, args.duration, args.repetitions,
                       tuple(args.open_loop_rates or ()), args.engine, server_cpus, loadgen_cpus,
                       tuple(args.command_line), args.open_loop_repetitions)


def clients_plan(args) -> ClientsPlan:
    server_cpus, loadgen_cpus = fairness.default_cpu_split()
    return ClientsPlan(args.scenario, tuple(args.runners), tuple(args.clients) if args.clients else None,
                       args.connections, args.size, args.duration, args.repetitions, server_cpus, loadgen_cpus,
                       tuple(args.command_line))


def verify_plan(args) -> VerifyPlan:
    try:
        runners = registry.select(args.runners or ["all"], registry.RUNNERS, "runner")
        scenarios = registry.select(args.scenarios or ["all"], registry.SCENARIOS, "scenario")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return VerifyPlan(tuple(runners), tuple(scenarios))


def compare_plan(args) -> ComparePlan:
    return ComparePlan(args.json, args.markdown, tuple(args.threshold or ()), args.normalize)


def ab_plan(args) -> AbPlan:
    environments = any((args.a_pip, args.b_pip, args.a_python, args.b_python))
    if not environments and not (args.a_ref and args.b_ref):
        raise BadInput("ab needs --a-ref and --b-ref (two revisions), or --a-pip/--b-pip or --a-python/--b-python "
                       "(two environments of one revision)")
    try:
        pips = {"a": tuple(shlex.split(args.a_pip)), "b": tuple(shlex.split(args.b_pip))}
    except ValueError as exc:
        raise BadInput(f"--a-pip/--b-pip: {exc}") from None
    return AbPlan({"a": args.a_ref or "HEAD", "b": args.b_ref or "HEAD"}, pips,
                  {"a": args.a_python, "b": args.b_python}, args.rounds, tuple(suite_options(args)),
                  args.output_dir, compare_plan(args), tuple(args.command_line))


def regress_plan(args) -> RegressPlan:
    allowed = args.allow_inconclusive or os.environ.get("ALLOW_INCONCLUSIVE", "") not in ("", "0")
    return RegressPlan(args.baseline, args.baseline_instructions, args.output_dir, allowed, args.skip_wall,
                       tuple(args.threshold))


def load_plan(args) -> LoadCommandPlan:
    params = scenario_params(args.scenario, args)
    measured_by = registry.SCENARIOS[args.scenario].measured_by
    if measured_by:
        raise UsageError(f"the {args.scenario} scenario is measured by `{measured_by}`, not by load")
    if args.warmup < 0:
        raise UsageError(f"--warmup must be 0 or more, got {args.warmup:g}")
    host, port = args.target
    if port == 0:
        raise UsageError("--target needs a real port, not 0")
    return LoadCommandPlan(args.scenario, params, host, port, args.connections, args.duration, args.warmup,
                           args.timeout, args.rate, args.arrival, args.cpus, args.engine, args.loadgen_procs,
                           args.start_at, args.json, args.events)
