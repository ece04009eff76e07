"""The command line (a contract other tools rely on): list, serve, backend-service, load, run, verify,
ceiling, memory, backpressure, report, show, merge-load, compare, ab.

It owns argument parsing and exit codes: bad input exits 2 with one line, no traceback (3 for compare and
ab, where 2 means inconclusive). The work itself lives in serve, loadgen, orchestrate, results, analysis, ab.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import socket
import sys
import tempfile
import time

from concbench import __version__, console, fairness, registry
from concbench.errors import BadInput, UsageError
from concbench.harness import protocol

DESCRIPTION = """\
concbench measures Python network servers written on different concurrency models (threads, pre-forked
processes, Twisted, Tornado, asyncio, gevent, uvloop...) serving the same scenarios, and says which is
faster, by how much and how sure that is. Every reply is verified; each measurement carries its evidence
(server CPU, load-generator CPU, errors, offered against achieved) and repetitions give a 95% interval.
"""
EPILOG = """\
examples:
  concbench list                                  runners and scenarios
  concbench run                                   the default suite (what make bench runs)
  concbench run --quick --runners asyncio threads a one-minute smoke run
  concbench show results/baseline.json --csv      a result file's cases for scripts
  concbench report results/baseline.json          charts, summary.md and index.html
  concbench compare BASE.json HEAD.json           regression check (exit 1 on a regression)
'-' as a FILE means standard output. `concbench COMMAND --help` lists a command's options and defaults.
"""

EXIT_BAD_INPUT = 2
EXIT_COMPARE_BAD_INPUT = 3   # compare and ab: 0 pass, 1 regression, 2 inconclusive, 3 bad input


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's lines, and states every option's default: '(default: X)' is added to a help
    that does not already say its default (a default of None means the help must say what happens)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if not action.option_strings or "default" in text.lower() or action.nargs == 0 \
                or action.default == argparse.SUPPRESS:
            return text
        if action.required:
            return f"{text} (required)"
        if action.default in (None, [], ()):
            return f"{text} (default: none)"
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    bad_input = UsageError   # the exception (so the exit code) for a bad argument; BadInput for compare and ab

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise self.bad_input(message)


def whole_number_at_least(minimum: int):
    """An argparse type: a whole number of at least `minimum`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number of at least {minimum}, got {value}")
        return value
    return parse


positive_int = whole_number_at_least(1)
non_negative_int = whole_number_at_least(0)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def cpu_list(text: str) -> tuple[int, ...]:
    try:
        return fairness.parse_cpus(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"target must be HOST:PORT, got {text!r}")
    return host.strip("[]"), port_number(port)


def runner_option(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"runner option must be NAME=VALUE, got {text!r}")
    return name, value


def scenario_name(text: str) -> str:
    if text not in registry.SCENARIOS:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {text!r} (known: {', '.join(registry.SCENARIOS)})")
    return text


def runner_name(text: str) -> str:
    text = registry.canonical(text)
    if text not in registry.RUNNERS:
        raise argparse.ArgumentTypeError(
            f"unknown runner {text!r} (known: {', '.join(registry.RUNNERS)})")
    return text


def build_parser() -> Parser:
    parser = Parser(prog="concbench", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"concbench {__version__}")
    add_verbosity_arguments(parser, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    p = sub.add_parser("list", help="runners and scenarios, with framework versions")
    p.add_argument("--verbose", "-v", dest="verbose", action="count", default=argparse.SUPPRESS,
                   help="also each runner's options and each scenario's parameters and the runners it excludes, "
                        "with the reasons (default: one line each)")

    p = sub.add_parser("serve", help="one server in the foreground until SIGINT/SIGTERM")
    p.add_argument("runner", type=runner_name)
    p.add_argument("scenario", type=scenario_name)
    p.add_argument("--port", type=port_number, required=True, help="0 picks a free port (printed on the ready line)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--size", type=positive_int,
                   help="scenario parameter (echo: message size; default: the scenario's, 64 for echo)")
    p.add_argument("--param", type=runner_option, action="append", default=[], metavar="NAME=VALUE",
                   help="a scenario parameter, e.g. iterations=3000 for cpu (see concbench list)")
    p.add_argument("--cpus", type=cpu_list, help="pin the server to these cpus, e.g. 0 or 0,1")
    p.add_argument("--option", "-O", type=runner_option, action="append", default=[],
                   help="runner option NAME=VALUE, e.g. workers=8 for processes")
    p.add_argument("--backend", type=target, metavar="HOST:PORT",
                   help="backend scenario: the backend service to call (default: start one)")

    p = sub.add_parser("backend-service", help="the backend scenario's backend service, until SIGINT/SIGTERM")
    p.add_argument("--port", type=port_number, required=True, help="0 picks a free port (printed on the ready line)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--cpus", type=cpu_list, help="pin the service to these cpus")

    p = sub.add_parser("load", help="drive any server with the closed-loop load generator")
    p.add_argument("scenario", type=scenario_name)
    p.add_argument("--target", type=target, required=True, help="HOST:PORT")
    p.add_argument("--connections", type=positive_int, required=True)
    p.add_argument("--duration", type=positive_float, required=True, help="measuring window, seconds")
    p.add_argument("--warmup", type=float, default=1.0, help="discarded warm-up, seconds (default 1)")
    p.add_argument("--size", type=positive_int, help="scenario parameter (echo: message size, default 64)")
    p.add_argument("--param", type=runner_option, action="append", default=[], metavar="NAME=VALUE",
                   help="a scenario parameter, e.g. iterations=3000 for cpu (see concbench list)")
    p.add_argument("--timeout", type=positive_float, default=2.0, help="per-request timeout, seconds (default 2)")
    p.add_argument("--rate", type=positive_float,
                   help="open loop: send R requests/s in total on a fixed timetable (default: closed loop)")
    p.add_argument("--arrival", choices=("uniform", "poisson"), default="uniform",
                   help="open-loop timetable: evenly spaced or Poisson arrivals (default uniform)")
    p.add_argument("--cpus", type=cpu_list, help="pin the load generator to these cpus")
    p.add_argument("--engine", choices=("native", "uvloop"),
                   help="load-generator engine (default: native where it is built, else uvloop)")
    p.add_argument("--loadgen-procs", type=positive_int, default=1,
                   help="load-generator processes (connections and rate split between them, one per cpu "
                        "of --cpus in turn; histograms merged)")
    p.add_argument("--start-at", type=float, metavar="UNIX_TIME",
                   help="wait until this wall-clock time before connecting (to line up load generators on several hosts)")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON to FILE ('-' for stdout)")
    p.add_argument("--events", action="store_true", help=argparse.SUPPRESS)  # JSON lines for the orchestrator

    from concbench.studies.orchestrate import add_run_arguments, add_ceiling_arguments
    add_run_arguments(sub.add_parser("run", help="the orchestrated suite (what make bench calls)"))
    add_ceiling_arguments(sub.add_parser("ceiling", help="the load generator's ceiling against the reference C server"))
    from concbench.studies.client_compare import add_clients_arguments
    add_clients_arguments(sub.add_parser("clients", help="the same servers measured by several clients (engines, wrk, "
                                                         "the C client), interleaved"))
    from concbench.studies.memory import add_memory_arguments
    add_memory_arguments(sub.add_parser("memory", help="memory per idle connection, per runner (fitted over levels)"))
    from concbench.studies.backpressure import add_backpressure_arguments
    add_backpressure_arguments(sub.add_parser(
        "backpressure", help="stream scenario: fast-reader MB/s and server peak memory against slow readers"))
    p = sub.add_parser("report", help="charts, summary.md and index.html from result files")
    p.add_argument("results", nargs="+", metavar="RESULT")
    p.add_argument("--output", default="reports", help="folder for the reports, one subfolder per result (default: reports/)")
    p = sub.add_parser("verify", help="check every runner x scenario against the scenario's rules")
    p.add_argument("--runners", nargs="+", metavar="RUNNER", help="default: all")
    p.add_argument("--scenarios", nargs="+", metavar="SCENARIO", help="default: all")
    p = sub.add_parser("merge-load", help="merge `load --json` files of one run (several hosts) into one report")
    p.add_argument("parts", nargs="+", metavar="LOAD_JSON")
    p.add_argument("--json", metavar="FILE", help="write the merged report to FILE ('-' for stdout)")
    p = sub.add_parser("show", help="the summary table of a result file (or its cases as JSON or CSV)")
    p.add_argument("result", metavar="RESULT")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", nargs="?", const="-", metavar="FILE",
                      help="the cases as JSON rows (figures, interval, verdict) to FILE, or stdout when no FILE or "
                           "'-' (default: the table)")
    form.add_argument("--csv", nargs="?", const="-", metavar="FILE",
                      help="the same rows as CSV (default: the table)")
    p = sub.add_parser("compare", help="HEAD against BASE per case and metric: ratio, 95%% CI, verdict")
    p.bad_input = BadInput
    p.add_argument("base", metavar="BASE", help="the reference result file")
    p.add_argument("head", metavar="HEAD", help="the result file under test")
    add_compare_arguments(p)
    from concbench.studies.ab import add_ab_arguments
    p = sub.add_parser("ab", help="two git revisions measured interleaved in one job, then compared")
    p.bad_input = BadInput
    add_ab_arguments(p)
    parser.command_parsers = sub.choices   # command -> its parser (each says which error a bad argument raises)
    for command_parser in sub.choices.values():
        add_verbosity_arguments(command_parser, argparse.SUPPRESS)
    return parser


def add_verbosity_arguments(p, default) -> None:
    """-q/-v before or after the command: less output (no progress lines), or more (each measurement's evidence)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="quiet", action="count", default=default,
                       help="less output: no progress lines, warnings and results only (default: progress shown)")
    if "-v" not in p._option_string_actions:
        group.add_argument("-v", "--verbose", dest="verbose", action="count", default=default,
                           help="more output: each measurement's validity evidence (default: one line each)")


def add_compare_arguments(p) -> None:
    """The options `compare` and `ab` share."""
    p.add_argument("--json", metavar="FILE",
                   help="also write the comparison as JSON ('-': to stdout, the markdown then goes to stderr; "
                        "default: none)")
    p.add_argument("--markdown", metavar="FILE",
                   help="also write the markdown table, e.g. for a job summary ('-': stdout, where it is printed "
                        "anyway; default: none)")
    p.add_argument("--threshold", nargs="+", action="extend", metavar="METRIC=PCT",
                   help="override a threshold: throughput=10 p50=10 p99=20 memory=5 (the defaults)")
    p.add_argument("--normalize", metavar="RUNNER",
                   help="divide every figure by this runner's median at the same case in the same file")


def scenario_params(scenario: str, args) -> dict:
    given = dict(getattr(args, "param", []) or [])
    if getattr(args, "size", None) is not None:
        given["size"] = args.size
    try:
        return registry.SCENARIOS[scenario].parse_params(given)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_list(args) -> int:
    if not getattr(args, "verbose", 0):
        return list_compact(quiet=bool(getattr(args, "quiet", 0)))
    print(engine_line())
    print("Runners:")
    for runner in registry.RUNNERS.values():
        tag = "" if runner.default else "  [not in the default suite]"
        if runner.default_for:
            tag = f"  [in the default suite for {', '.join(runner.default_for)} only]"
        if runner.not_default_for:
            tag = f"  [not in the default suite for {', '.join(runner.not_default_for)}]"
        if runner.own_http_stack:
            tag += "  [http only]"
        if runner.group:
            tag += f"  [{runner.group}: make {runner.group}]"
        if runner.external:
            tag += f"  [EXTERNAL plugin from {runner.framework}]"
        variant = f" (variant of {runner.variant_of})" if runner.variant_of else ""
        print(f"  {runner.name:<20} {runner.framework} {runner.version():<10} {runner.model}{variant}{tag}")
        print(f"  {'':<20} {runner.summary}")
        if runner.note:
            print(f"  {'':<20} note: {runner.note}")
        for name, help_text in runner.options:
            print(f"  {'':<20} option {name}: {help_text}")
        if getattr(args, "verbose", False):
            fixed = ", ".join(f"{k}={v}" for k, v in runner.fixed_options) or "none"
            print(f"  {'':<20} module {runner.module}; fixed options: {fixed}")
            for scenario in registry.SCENARIOS:
                reason = registry.applicable(runner.name, scenario)
                if reason:
                    print(f"  {'':<20} does not serve {scenario}: {reason}")
    aliases = ", ".join(f"{old} -> {new}" for old, new in registry.ALIASES.items())
    print(f"  (old names still accepted: {aliases})")
    for problem in registry.PLUGIN_PROBLEMS:
        print(f"  PLUGIN PROBLEM: {problem}")
    print("Scenarios:")
    for scenario in registry.SCENARIOS.values():
        print(f"  {scenario.name:<20} {scenario.summary}")
        if scenario.measured_by:
            print(f"  {'':<20} measured by `{scenario.measured_by}`, not by run or load")
        for param in scenario.parameters:
            print(f"  {'':<20} --param {param.name}=N (default {param.default}): {param.help}")
        for runner in registry.RUNNERS:
            reason = registry.applicable(runner, scenario.name)
            if reason:
                print(f"  {'':<20} not on {runner}: {reason}")
    return 0


def engine_line() -> str:
    from concbench.clients.native_engine import UNAVAILABLE_BECAUSE
    return ("Load generator engine: "
            + ("native (C, concbench.clients._engine)" if not UNAVAILABLE_BECAUSE else "uvloop: " + UNAVAILABLE_BECAUSE))


def list_compact(quiet: bool = False) -> int:
    """One line per runner and per scenario; -q: the names only; --verbose: options, parameters and reasons."""
    if quiet:
        print("\n".join([*registry.RUNNERS, *registry.SCENARIOS]))
        return 0
    print(engine_line())
    print("Runners (--verbose: options and what each one is):")
    for runner in registry.RUNNERS.values():
        tags = [] if runner.default else ["not default"]
        if runner.default_for:
            tags = [f"default for {', '.join(runner.default_for)} only"]
        if runner.not_default_for:
            tags.append(f"not default for {', '.join(runner.not_default_for)}")
        if runner.only_scenarios:
            tags.append(f"{', '.join(runner.only_scenarios)} only")
        if runner.group:
            tags.append(f"group {runner.group}: make {runner.group}")
        if runner.external:
            tags.append(f"EXTERNAL plugin from {runner.framework}")
        if runner.note.startswith("UNMAINTAINED"):
            tags.append("UNMAINTAINED upstream")
        tag = f"  [{'; '.join(tags)}]" if tags else ""
        print(f"  {runner.name:<20} {runner.framework} {runner.version():<10} {runner.model}{tag}")
    for problem in registry.PLUGIN_PROBLEMS:
        print(f"  PLUGIN PROBLEM: {problem}")
    print("Scenarios (--verbose: parameters, and which runners do not apply and why):")
    for scenario in registry.SCENARIOS.values():
        by = f" [measured by `{scenario.measured_by}`]" if scenario.measured_by else ""
        summary = scenario.summary if len(scenario.summary) <= 90 else scenario.summary[:87].rsplit(" ", 1)[0] + "..."
        print(f"  {scenario.name:<20} {summary}{by}")
    return 0


def cmd_show(args) -> int:
    """`show`: the table (orchestrate.cmd_show), or with --json/--csv the cases as rows (analysis.export)."""
    destination = args.json or args.csv
    if not destination:
        from concbench.studies.orchestrate import cmd_show as show_table
        return show_table(args)
    from concbench.analysis.export import rows_csv, rows_json
    from concbench.results.format import NotAResult, load_measurements, write_text_atomically
    try:
        records = load_measurements(args.result)
    except NotAResult as exc:
        raise UsageError(str(exc)) from None
    text = rows_json(records) if args.json else rows_csv(records)
    if destination == "-":
        sys.stdout.write(text)
    else:
        write_text_atomically(destination, text)
    return 0


def cmd_serve(args) -> int:
    from concbench.harness.serve import serve
    params = scenario_params(args.scenario, args)
    reason = registry.applicable(args.runner, args.scenario)
    if reason:
        raise UsageError(f"{args.runner} cannot serve {args.scenario}: {reason}")
    backend = f"{args.backend[0]}:{args.backend[1]}" if args.backend else None
    try:
        serve(args.runner, args.scenario, params, args.host, args.port, dict(args.option), args.cpus, backend)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {args.port} on {args.host} is already in use") from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
            raise UsageError(f"cannot bind {args.host}:{args.port}: {exc.strerror or exc}") from None
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_backend_service(args) -> int:
    from concbench.harness.backend_service import run_service
    try:
        return run_service(args.host, args.port, args.cpus)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {args.port} on {args.host} is already in use") from None
        raise


def cmd_load(args) -> int:
    from concbench.clients.loadgen import LoadPlan, probe, run_load
    from concbench.results.measurement import loadgen_report
    params = scenario_params(args.scenario, args)
    measured_by = registry.SCENARIOS[args.scenario].measured_by
    if measured_by:
        raise UsageError(f"the {args.scenario} scenario is measured by `{measured_by}`, not by load")
    if args.warmup < 0:
        raise UsageError(f"--warmup must be 0 or more, got {args.warmup:g}")
    host, port = args.target
    if port == 0:
        raise UsageError("--target needs a real port, not 0")
    fairness.pin_to_cpus(args.cpus)
    limit = fairness.raise_open_file_limit()
    if args.connections + 64 > limit:
        raise UsageError(f"{args.connections} connections need more open files than the limit ({limit}); "
                         f"raise the hard limit (ulimit -Hn) or use fewer connections")
    if args.loadgen_procs > args.connections:
        raise UsageError(f"--loadgen-procs {args.loadgen_procs} needs at least as many connections")
    problem = probe(host, port)
    if problem:
        raise UsageError(problem)

    def emit(event):
        if args.events:
            protocol.emit(event)

    plan = LoadPlan(host, port, args.connections, args.warmup, args.duration, args.timeout,
                    rate=args.rate, arrival=args.arrival)
    if args.start_at is not None:
        wait = args.start_at - time.time()
        if wait > 3600:
            raise UsageError(f"--start-at is {wait:.0f} s away (more than an hour)")
        if wait > 0:
            time.sleep(wait)
    workload = registry.SCENARIOS[args.scenario].client_workload(params)
    from concbench.clients.native_engine import resolve
    try:
        engine = resolve(args.engine)
    except ValueError as exc:
        raise UsageError(f"--engine {args.engine}: {exc}") from None
    emit(protocol.READY)
    if args.loadgen_procs > 1:
        from concbench.clients.loadgen_procs import run_load_processes
        report = run_load_processes(plan, workload, args.loadgen_procs, args.cpus, emit, engine=engine)
    else:
        report = loadgen_report(run_load(plan, workload, emit, engine=engine))
    report.update(scenario=args.scenario, params=params, target=f"{host}:{port}")
    if args.events:
        protocol.emit(protocol.RESULT, result=report)
    if args.json:
        from concbench.results.format import write_json_atomically
        if args.json == "-":
            print(json.dumps(report, indent=2))
        else:
            write_json_atomically(args.json, report)
    if not args.events and args.json != "-":
        print(describe_load(report))
    return 0 if report["status"] == "ok" else 1


def describe_load(report: dict) -> str:
    offered = (f" of {report['offered_rate']:,.0f} offered ({report['arrival']}"
               f"{', OVERLOADED' if report['overloaded'] else ''})" if report.get("offered_rate") else "")
    line = (f"{report['status']}: {report['throughput_rps']:,.0f} req/s{offered}, "
            f"p50 {report['latency_p50_s'] * 1e3:.3f} ms, p99 {report['latency_p99_s'] * 1e3:.3f} ms, "
            f"{report['requests']:,} verified replies in {report['window_s']:.2f} s, "
            f"{report['errors']} errors, load generator CPU {report['loadgen_cpu_pct']:.0f}% "
            f"({report.get('engine', 'uvloop')} engine)")
    if report.get("offered_rate"):
        line += (f"\nlatency from the intended send time (corrected) p99 {report['latency_p99_s'] * 1e3:.3f} ms, "
                 f"max {report['latency_max_s'] * 1e3:.3f} ms; from the actual send (uncorrected) "
                 f"p99 {report['latency_uncorrected_p99_s'] * 1e3:.3f} ms, max "
                 f"{report['latency_uncorrected_max_s'] * 1e3:.3f} ms; our timer's lateness p99 "
                 f"{report['schedule_lateness_p99_s'] * 1e3:.3f} ms (not charged to the server)")
    if report.get("first_error"):
        line += f"\nfirst error: {report['first_error']}"
    if report.get("starved_connections"):
        line += f"\nstarved connections (no reply at all): {report['starved_connections']} of {report['connections']}"
    return line


def cmd_merge_load(args) -> int:
    from concbench.results.measurement import merge_reports
    parts = []
    for path in args.parts:
        try:
            with open(path) as f:
                part = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: not a readable load report ({exc.__class__.__name__})") from None
        if not isinstance(part, dict) or "latency_histogram" not in part or "requests" not in part:
            raise UsageError(f"{path}: not a `concbench load --json` report")
        parts.append(part)
    if len({(p.get("scenario"), p.get("mode"), json.dumps(p.get("params"), sort_keys=True)) for p in parts}) > 1:
        raise UsageError("the reports are of different scenarios, parameters or load modes")
    merged = merge_reports(parts)
    if args.json:
        from concbench.results.format import write_json_atomically
        if args.json == "-":
            print(json.dumps(merged, indent=2))
        else:
            write_json_atomically(args.json, merged)
    if args.json != "-":
        print(describe_load(merged))
    return 0 if merged["status"] == "ok" else 1


def cmd_verify(args) -> int:
    from concbench.studies.verify import cmd_verify as verify
    return verify(args)


def compare_files(base_path, head_path, args) -> int:
    """Compare two result files, print the markdown and summary, write --json/--markdown; the exit code."""
    from concbench.analysis.compare import compare_records, markdown, parse_thresholds
    from concbench.results.kinds import kind_of_records
    from concbench.results.format import NotAResult, load_measurements, write_json_atomically, write_text_atomically
    metrics = parse_thresholds(args.threshold)
    try:
        base, head = load_measurements(base_path), load_measurements(head_path)
    except NotAResult as exc:
        raise BadInput(str(exc)) from None
    for path, records in ((base_path, base), (head_path, head)):
        kind = kind_of_records(records)     # memory, backpressure: figures of their own, not compared case by case
        if kind is None or not kind.comparable:
            raise BadInput(f"{path}: a {kind.name if kind else 'newer'} result; compare reads `concbench run` results "
                           f"(read it with `concbench show`)")
    report = compare_records(base, head, metrics, args.normalize)
    report.update(base=str(base_path), head=str(head_path))
    text = markdown(report)
    print(text, end="", flush=True, file=sys.stderr if args.json == "-" else sys.stdout)
    try:
        if args.json == "-":
            print(json.dumps(report, indent=2), flush=True)
        elif args.json:
            write_json_atomically(args.json, report)
        if args.markdown and args.markdown != "-":
            write_text_atomically(args.markdown, text)
    except OSError as exc:
        raise BadInput(f"cannot write {exc.filename}: {exc.strerror}") from None
    return report["exit_code"]


def cmd_compare(args) -> int:
    return compare_files(args.base, args.head, args)


def cmd_ab(args) -> int:
    from concbench.studies.ab import run_ab
    return run_ab(args)


COMMANDS = {"list": cmd_list, "show": cmd_show, "serve": cmd_serve, "backend-service": cmd_backend_service, "load": cmd_load, "merge-load": cmd_merge_load,
            "verify": cmd_verify, "compare": cmd_compare, "ab": cmd_ab}


STOPPABLE = ("memory", "backpressure", "ceiling", "verify")


def run_stoppable(args) -> int:
    """memory, backpressure, ceiling, verify: SIGINT/SIGTERM/SIGHUP stop every child (process groups, SIGKILL after
    a grace period) and exit 128 + signal. (`run` handles its own, to write its file first.)"""
    from concbench.harness import lifecycle
    with lifecycle.interruptible():
        try:
            if args.command == "memory":
                from concbench.studies.memory import cmd_memory
                return cmd_memory(args)
            if args.command == "backpressure":
                from concbench.studies.backpressure import cmd_backpressure
                return cmd_backpressure(args)
            if args.command == "verify":
                return COMMANDS["verify"](args)
            from concbench.studies import orchestrate
            return orchestrate.COMMANDS[args.command](args)
        except lifecycle.Interrupted as exc:
            lifecycle.stop_all()
            print(f"\nconcbench {args.command}: {exc.name} received; every child process stopped", file=sys.stderr)
            return exc.exit_code


RESULT_FILE_COMMANDS = ("run", "memory", "backpressure")     # -o FILE: a result file ('-': stdout)


def result_to_stdout(args, command) -> int:
    """`-o -`: the command writes its result file to a temporary place, its usual output goes to stderr, and
    the result file (pyperf JSON) is copied to stdout at the end; no report is drawn (it needs a file)."""
    with tempfile.TemporaryDirectory(prefix="concbench-") as folder:
        args.output = os.path.join(folder, "result.json")
        if hasattr(args, "no_report"):
            args.no_report = True
        with contextlib.redirect_stdout(sys.stderr):
            code = command(args)
        if os.path.exists(args.output):
            with open(args.output) as result:
                sys.stdout.write(result.read())
            sys.stdout.flush()
        return code


def dispatch(args) -> int:
    if args.command in STOPPABLE:        # commands that start servers: a stop signal stops every child
        return run_stoppable(args)
    if args.command in COMMANDS:
        return COMMANDS[args.command](args)
    if args.command == "clients":
        from concbench.studies.client_compare import run_clients
        return run_clients(args)
    if args.command == "memory":
        from concbench.studies.memory import cmd_memory
        return cmd_memory(args)
    if args.command == "backpressure":
        from concbench.studies.backpressure import cmd_backpressure
        return cmd_backpressure(args)
    from concbench.studies import orchestrate
    return orchestrate.COMMANDS[args.command](args)


def main(argv=None) -> int:
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)   # as given (run --resume re-plans from them)
        if unknown:   # as parse_args would, but with the command's own exit code (3 for compare and ab)
            raise parser.command_parsers[args.command].bad_input(
                f"unrecognized arguments: {' '.join(unknown)}")
        console.set_verbosity(getattr(args, "quiet", 0) or 0, getattr(args, "verbose", 0) or 0)
        if args.command in RESULT_FILE_COMMANDS and getattr(args, "output", None) == "-":
            code = result_to_stdout(args, dispatch)
        else:
            code = dispatch(args)
        sys.stdout.flush()                     # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return quiet_broken_pipe()
    except UsageError as exc:
        print(f"concbench: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BadInput as exc:
        print(f"concbench: error: {exc}", file=sys.stderr)
        return EXIT_COMPARE_BAD_INPUT
    except KeyboardInterrupt:
        print("concbench: interrupted", file=sys.stderr)
        return 130


def quiet_broken_pipe() -> int:
    """The reader of our stdout went away (`concbench list | head`): end quietly, as a command killed by
    SIGPIPE would (exit 141), without the traceback or the 'Exception ignored' at exit. A broken pipe on
    anything but stdout (a socket, say) is a real error and is raised again."""
    if not stdout_reader_gone():
        raise
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())              # Python flushes stdout again at exit
    return 141


def stdout_reader_gone() -> bool:
    """True when stdout is a pipe with no reader left (poll reports an error on its write end)."""
    import select
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False
