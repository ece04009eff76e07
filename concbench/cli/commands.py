"""The COMMANDS table: every command's name, help, options, handler, and what the command line does around it (stop
signals for commands that start children, -o/--resume for commands that write a result file, the exit code of a bad
argument). Each handler turns its arguments into a plan (concbench.cli.plans) and hands it to the work.

As in pyperf's __main__, a handler imports the module that does its work when it runs, so that a command loads only
its own (`serve` and `load` are started for every measurement: they load neither the studies nor matplotlib); no work
module imports the command line.
"""
from __future__ import annotations

import errno
import socket
import sys
from dataclasses import dataclass
from typing import Callable

from concbench.cli import arguments, plans
from concbench.errors import BadInput, UsageError


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    handler: Callable[..., int]                  # args -> exit code
    arguments: Callable[..., None]               # adds the command's options to its parser
    stoppable: bool = False      # starts children: SIGINT/SIGTERM/SIGHUP stop every one, exit 128 + signal
    result_file: bool = False    # -o FILE writes a result file ('-': stdout), --resume FILE continues one
    bad_input: type = UsageError     # what a bad argument raises: UsageError exits 2, BadInput 3 (compare, ab, regress)


def cmd_serve(args) -> int:
    from concbench import registry
    from concbench.harness.serve import serve
    params = plans.scenario_params(args.scenario, args)
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
    from concbench.studies import load
    return load.run(plans.load_plan(args))


def cmd_merge_load(args) -> int:
    from concbench.studies import load
    return load.merge(args.parts, args.json)


def cmd_run(args) -> int:
    if args.python:       # several interpreters: concbench.studies.interpreters runs one `run` per round and each
        from concbench.studies import interpreters
        return interpreters.run_with_pythons(plans.pythons_plan(args))
    from concbench.studies import orchestrate
    return orchestrate.run(plans.run_plan(args))


def cmd_ceiling(args) -> int:
    from concbench.studies import ceiling
    return ceiling.run(plans.ceiling_plan(args))


def cmd_clients(args) -> int:
    from concbench.studies import client_compare
    return client_compare.run_clients(plans.clients_plan(args))


def cmd_memory(args) -> int:
    from concbench.studies import memory
    return memory.run(plans.memory_plan(args))


def cmd_backpressure(args) -> int:
    from concbench.studies import backpressure
    return backpressure.run(plans.backpressure_plan(args))


def cmd_verify(args) -> int:
    from concbench.studies import verify
    return verify.run(plans.verify_plan(args))


def cmd_report(args) -> int:
    from concbench.analysis.report import write_report
    from concbench.results.format import NotAResult
    from concbench.studies.pipeline import print_report_paths
    for path in args.results:
        try:
            print_report_paths(write_report(path, args.output))   # by the file's kind (concbench.analysis.views)
        except NotAResult as exc:
            raise UsageError(str(exc)) from None
    return 0


def cmd_show(args) -> int:
    """The table of a result file, whatever its kind (concbench.analysis.views); with --json/--csv its cases as rows
    (analysis.export)."""
    destination = args.json or args.csv
    if not destination:
        from concbench.analysis.views import show_text
        from concbench.results.format import NotAResult
        try:
            print(show_text(args.result))     # the table of the file's kind; an unfinished run says how to finish it
        except NotAResult as exc:
            raise UsageError(str(exc)) from None
        return 0
    from concbench.analysis import export
    from concbench.results.format import NotAResult, load_measurements, write_text_atomically
    try:
        records = load_measurements(args.result)
    except NotAResult as exc:
        raise UsageError(str(exc)) from None
    text = export.rows_json(records) if args.json else export.rows_csv(records)
    if destination == "-":
        sys.stdout.write(text)
    else:
        write_text_atomically(destination, text)
    return 0


def cmd_compare(args) -> int:
    from concbench.studies.comparison import compare_files
    return compare_files(args.base, args.head, plans.compare_plan(args))


def cmd_ab(args) -> int:
    from concbench.studies import ab
    return ab.run_ab(plans.ab_plan(args))


def cmd_regress(args) -> int:
    from concbench.studies import regress
    return regress.run_regress(plans.regress_plan(args))


def cmd_list(args) -> int:
    from concbench.cli import listing
    return listing.cmd_list(args)


COMMANDS = {command.name: command for command in (
    Command("list", "runners and scenarios, with framework versions", cmd_list, arguments.add_list_arguments),
    Command("serve", "one server in the foreground until SIGINT/SIGTERM", cmd_serve, arguments.add_serve_arguments),
    Command("backend-service", "the backend scenario's backend service, until SIGINT/SIGTERM", cmd_backend_service,
            arguments.add_backend_service_arguments),
    Command("load", "drive any server with the closed-loop load generator", cmd_load, arguments.add_load_arguments),
    Command("run", "the orchestrated suite (what make bench calls)", cmd_run, arguments.add_run_arguments,
            stoppable=True, result_file=True),
    Command("ceiling", "the load generator's ceiling against the reference C server", cmd_ceiling,
            arguments.add_ceiling_arguments, stoppable=True),
    Command("clients", "the same servers measured by several clients (engines, wrk, the C client), interleaved",
            cmd_clients, arguments.add_clients_arguments, stoppable=True),
    Command("memory", "memory per idle connection, per runner (fitted over levels)", cmd_memory,
            arguments.add_memory_arguments, stoppable=True, result_file=True),
    Command("backpressure", "stream scenario: fast-reader MB/s and server peak memory against slow readers",
            cmd_backpressure, arguments.add_backpressure_arguments, stoppable=True, result_file=True),
    Command("report", "charts, summary.md and index.html from result files", cmd_report,
            arguments.add_report_arguments),
    Command("verify", "check every runner x scenario against the scenario's rules", cmd_verify,
            arguments.add_verify_arguments, stoppable=True),
    Command("merge-load", "merge `load --json` files of one run (several hosts) into one report", cmd_merge_load,
            arguments.add_merge_load_arguments),
    Command("show", "the summary table of a result file (or its cases as JSON or CSV)", cmd_show,
            arguments.add_show_arguments),
    Command("compare", "HEAD against BASE per case and metric: ratio, 95%% CI, verdict", cmd_compare,
            arguments.add_compare_arguments, bad_input=BadInput),
    Command("ab", "two git revisions measured interleaved in one job, then compared", cmd_ab,
            arguments.add_ab_arguments, stoppable=True, bad_input=BadInput),
    Command("regress", "the regression check that decides (make regress): instruction counts, then the quick "
                       "suite, each against its baseline", cmd_regress, arguments.add_regress_arguments,
            stoppable=True, bad_input=BadInput),
)}
