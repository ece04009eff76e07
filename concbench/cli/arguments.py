"""Every command's options, in one place: the shared groups (verbosity, suite selection, cpus, output, comparison)
and each command's own, with the help texts `concbench COMMAND --help` prints.

It owns what the options are called, their types and what their help says (every default stated); turning them into
a plan is concbench.cli.plans's. Defaults that are a study's own are read from that study's constants.
"""
from __future__ import annotations

import argparse

from concbench import registry
from concbench.cli.types import (cpu_list, non_negative_int, port_number, positive_float, positive_int,
                                 runner_name, runner_option, scenario_name, target)
from concbench.studies import plans
from concbench.studies.profiles import PROFILES


def add_verbosity_arguments(p, default) -> None:
    """-q/-v before or after the command: less output (no progress lines), or more (each measurement's evidence)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="quiet", action="count", default=default,
                       help="less output: no progress lines, warnings and results only (default: progress shown)")
    if "-v" not in p._option_string_actions:
        group.add_argument("-v", "--verbose", dest="verbose", action="count", default=default,
                           help="more output: each measurement's validity evidence (default: one line each)")


def profile_default(field: str, unit: str = "") -> str:
    """'default: 0.25 s (--quick 0.2 s, --full 2 s)': a profile setting as the help states it."""
    def value(name):
        given = getattr(PROFILES[name], field)
        return f"{' '.join(map(str, given)) if isinstance(given, tuple) else f'{given:g}'}{unit}"
    return f"default: {value('default')} (--quick {value('quick')}, --full {value('full')})"


def add_cpu_arguments(p, client: str = "the load generator") -> None:
    """Where the server and its client run (each pinned; by default the first cpu and the second)."""
    group = p.add_argument_group("where it runs")
    group.add_argument("--server-cpus", type=cpu_list, help="cpus for the server (default: the first)")
    group.add_argument("--loadgen-cpus", type=cpu_list, help=f"cpus for {client} (default: the second)")


def add_output_arguments(p, default_name: str, what: str = "run") -> argparse._ArgumentGroup:
    """-o, --force, --resume: the result file, written after every measurement (a study of the pipeline)."""
    group = p.add_argument_group("result file")
    group.add_argument("-o", "--output", help=f"result file (default: results/{default_name}); written after every "
                                              f"measurement; an existing file is refused unless --force")
    group.add_argument("--force", action="store_true", help="replace an existing -o file")
    group.add_argument("--resume", metavar="FILE", help=f"continue an interrupted {what}: measure only what FILE "
                                                        f"lacks, with the plan FILE was run with")
    return group


def add_runner_option_argument(p, example: str = "") -> None:
    p.add_argument("--option", "-O", action="append", default=[], metavar="RUNNER:NAME=VALUE",
                   help=f"a runner option{example}")


def add_suite_arguments(p) -> None:
    """What a suite measures and how long (run, and ab, which forwards them to its runs)."""
    group = p.add_argument_group("what is measured")
    group.add_argument("--runners", nargs="+", metavar="RUNNER",
                       help="runners, e.g. asyncio twisted, all, or all,-gevent (default: the default suite)")
    group.add_argument("--scenarios", nargs="+", metavar="SCENARIO", help="scenarios (default: the default ones)")
    profiles = group.add_mutually_exclusive_group()
    profiles.add_argument("--quick", action="store_true", help="short windows, levels 1-100 (for smoke tests)")
    profiles.add_argument("--full", action="store_true", help="all sizes, 10 s windows, 5 repetitions")
    group.add_argument("--connections", type=positive_int, nargs="+", metavar="N",
                       help="concurrency levels for every scenario (default: each scenario's own levels, see the "
                            "README)")
    group.add_argument("--sizes", type=positive_int, nargs="+", metavar="BYTES",
                       help=f"message sizes, for every scenario with a size parameter ({profile_default('sizes')})")
    group.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="a scenario parameter for every selected scenario that has it, e.g. iterations=3000")
    group.add_argument("--warmup", type=float, metavar="SECONDS",
                       help=f"discarded warm-up per measurement, seconds ({profile_default('warmup_s', ' s')})")
    group.add_argument("--duration", type=positive_float, metavar="SECONDS",
                       help=f"measuring window per measurement, seconds ({profile_default('window_s', ' s')})")
    add_runner_option_argument(group, ", e.g. processes:workers=8")
    group.add_argument("--timeout", type=positive_float, metavar="SECONDS",
                       help=f"per-request timeout, seconds ({profile_default('timeout_s', ' s')})")
    add_cpu_arguments(p)
    group.add_argument("--slow-clients", type=non_negative_int, nargs="+", metavar="N",
                       help="slow-client levels, e.g. 0 100 1000: N more connections trickle requests a few bytes "
                            "at a time while the fast clients are measured (default: none, not a dimension)")
    group.add_argument("--slow-step-bytes", type=positive_int, metavar="BYTES",
                       help="bytes per slow step (default 4)")
    group.add_argument("--slow-interval", type=positive_float, metavar="SECONDS",
                       help="seconds between slow steps (default 0.1)")
    group.add_argument("--measure", choices=("wall", "instructions"),
                       help="wall (default): time windows; instructions: each server under callgrind, instructions "
                            "per verified request (docs/instructions.md)")
    group.add_argument("--requests", type=positive_int, metavar="N",
                       help=f"--measure instructions: verified requests counted per measurement "
                            f"(default {plans.INSTRUCTIONS_REQUESTS})")


def add_run_arguments(p) -> None:
    add_suite_arguments(p)
    group = p.add_argument_group("how many times")
    group.add_argument("--repetitions", type=positive_int, metavar="N",
                       help="exactly this many repetitions, no stop rule (at least 3 is the rule; default: the "
                            "profile's minimum and maximum)")
    group.add_argument("--min-repetitions", type=positive_int, metavar="N",
                       help="repetitions of every case before the stop rule (default: 3, --full 5)")
    group.add_argument("--max-repetitions", type=positive_int, metavar="N",
                       help="more repetitions, level by level, until the 95%% interval of each runner's median is "
                            "within +-10%% (default: 5, --quick 3, --full 10)")
    group.add_argument("--stability-budget", type=positive_float, metavar="SECONDS",
                       help="time allowed for the extra repetitions (default: 60 s, --full 900 s)")
    group = p.add_argument_group("open loop")
    group.add_argument("--rates", type=positive_float, nargs="+", metavar="R",
                       help="open loop: offered rates (requests/s in total) to sweep, instead of closed loop")
    group.add_argument("--rate-search", action="store_true",
                       help="open loop: per runner, raise the offered rate until it cannot keep up or p99 passes "
                            "the target, then bisect; reports the capacity at the target")
    group.add_argument("--rate-start", type=positive_float, default=2000.0, metavar="R",
                       help="first rate of --rate-search")
    group.add_argument("--arrival", choices=("uniform", "poisson"), default="uniform", help="open-loop timetable")
    group.add_argument("--p99-target-ms", type=positive_float, default=10.0, metavar="MS",
                       help="latency target for capacity (default 10 ms)")
    group = p.add_argument_group("load generator and servers")
    group.add_argument("--loadgen", choices=("concbench", "wrk"), default="concbench",
                       help="wrk (http scenario, if installed): a cross-check driven by wrk, labelled as such")
    group.add_argument("--loadgen-procs", type=positive_int, default=1, metavar="N",
                       help="load-generator processes per measurement (spread over --loadgen-cpus)")
    group.add_argument("--engine", choices=("native", "uvloop"),
                       help="load-generator engine (default: native where it is built, else uvloop)")
    group.add_argument("--server-cmd", action="append", default=[], metavar="'NAME=COMMAND {port}'",
                       help="any command as a server (repeatable): started fresh per measurement on the server "
                            "cpus, verified, measured, labelled external; {port} is where it must listen on "
                            "127.0.0.1")
    group.add_argument("--python", action="append", metavar="PATH",
                       help="run the servers under this interpreter (repeat for several, side by side; each gets "
                            "its own cached environment; runners tagged with the interpreter)")
    group = add_output_arguments(p, "<scenario>-<time>.json")
    group.add_argument("--report-dir", metavar="DIR",
                       help="folder for the report (default: reports/ beside -o, or ./reports without -o)")
    group.add_argument("--no-report", action="store_true", help="skip the charts and HTML report")


def add_memory_arguments(p) -> None:
    p.add_argument("--runners", nargs="+", metavar="RUNNER",
                   help="runners to measure, like run --runners (default: the default suite and the thread-stack "
                        "variants)")
    p.add_argument("--levels", type=positive_int, nargs="+", metavar="N",
                   help=f"idle connections to hold (default {' '.join(map(str, plans.MEMORY_LEVELS))})")
    p.add_argument("--process-levels", type=positive_int, nargs="+", metavar="N",
                   help=f"levels for the processes runner, one worker each (default "
                        f"{' '.join(map(str, plans.MEMORY_PROCESS_LEVELS))})")
    p.add_argument("--repetitions", type=positive_int, default=plans.MEMORY_REPETITIONS, metavar="N",
                   help=f"fresh servers per runner (default {plans.MEMORY_REPETITIONS})")
    p.add_argument("--warm", type=int, default=plans.MEMORY_WARM, metavar="N",
                   help=f"connections open before the baseline (default {plans.MEMORY_WARM})")
    add_runner_option_argument(p)
    add_cpu_arguments(p, "the idle holder")
    group = add_output_arguments(p, "memory-<time>.json", "memory run")
    group.add_argument("--no-chart", action="store_true", help="skip the chart")


def add_backpressure_arguments(p) -> None:
    p.add_argument("--runners", nargs="+", metavar="RUNNER",
                   help="runners, like run --runners (default: the default suite and the unbounded variants)")
    p.add_argument("--slow", type=int, nargs="+", metavar="S",
                   help=f"numbers of slow readers (default {' '.join(map(str, plans.BACKPRESSURE_SLOW_LEVELS))})")
    p.add_argument("--fast", type=int, default=plans.BACKPRESSURE_FAST, metavar="F",
                   help=f"fast readers (default {plans.BACKPRESSURE_FAST})")
    p.add_argument("--slow-rate", type=positive_int, default=plans.BACKPRESSURE_SLOW_RATE, metavar="BYTES_PER_S",
                   help=f"bytes/s per slow reader (default {plans.BACKPRESSURE_SLOW_RATE}, 1 MiB/s)")
    p.add_argument("--slow-rcvbuf", type=positive_int, default=plans.BACKPRESSURE_SLOW_RCVBUF, metavar="BYTES",
                   help=f"SO_RCVBUF of a slow reader's socket (default {plans.BACKPRESSURE_SLOW_RCVBUF})")
    p.add_argument("--size", type=positive_int, metavar="BYTES", help="payload bytes per connection (default 256 MiB)")
    p.add_argument("--chunk", type=positive_int, metavar="BYTES", help="bytes per server write (default 64 KiB)")
    p.add_argument("--repetitions", type=positive_int, default=plans.BACKPRESSURE_REPETITIONS, metavar="N",
                   help=f"fresh servers per cell (default {plans.BACKPRESSURE_REPETITIONS})")
    p.add_argument("--warmup", type=float, default=plans.BACKPRESSURE_WARMUP_S, metavar="SECONDS",
                   help=f"seconds before the window (default {plans.BACKPRESSURE_WARMUP_S:g})")
    p.add_argument("--window", type=positive_float, default=plans.BACKPRESSURE_WINDOW_S, metavar="SECONDS",
                   help=f"measuring window, s (default {plans.BACKPRESSURE_WINDOW_S:g})")
    p.add_argument("--memory-budget", type=positive_float, default=plans.BACKPRESSURE_BUDGET_GIB, metavar="GIB",
                   help=f"GiB the worst case may take; also the kill switch per run (default "
                        f"{plans.BACKPRESSURE_BUDGET_GIB:g})")
    add_runner_option_argument(p)
    add_cpu_arguments(p, "the stream client")
    group = add_output_arguments(p, "backpressure-<time>.json", "backpressure run")
    group.add_argument("--no-chart", action="store_true", help="skip the chart")


def add_ceiling_arguments(p) -> None:
    p.add_argument("--connections", type=positive_int, default=50, metavar="N",
                   help="connections each client keeps busy")
    p.add_argument("--size", type=positive_int, default=64, metavar="BYTES", help="echo message size")
    p.add_argument("--duration", type=positive_float, default=3.0, metavar="SECONDS",
                   help="measuring window of each client's turn, after a 1 s warm-up")
    p.add_argument("--repetitions", type=positive_int, default=5, metavar="N",
                   help="rounds; in each, every client is measured once against a fresh server, in rotated order")
    p.add_argument("--open-loop-rates", type=positive_float, nargs="*",
                   default=[60000.0, 100000.0, 150000.0, 200000.0], metavar="R",
                   help="also run the load generator and the C client open loop at these rates (default 60k 100k "
                        "150k 200k), and at 0.9x the C client's closed-loop median of the run")
    p.add_argument("--open-loop-repetitions", type=positive_int, default=2, metavar="N",
                   help="each open-loop rate, both clients, this many times (rotated; default 2)")
    p.add_argument("--engine", choices=("native", "uvloop"),
                   help="the engine of the open-loop checks (default: native where built)")


def add_clients_arguments(p) -> None:
    p.add_argument("--scenario", choices=("http", "echo", "churn"), default="http")
    p.add_argument("--runners", nargs="+", default=registry.group_runners("clients"), metavar="RUNNER")
    p.add_argument("--clients", nargs="+", default=None, metavar="CLIENT",
                   help="native, uvloop (concbench's engines), wrk (http), c-epoll (echo, churn); default: native "
                        "and the scenario's reference client (wrk for http, c-epoll for echo and churn)")
    p.add_argument("--connections", type=positive_int, default=50, metavar="N")
    p.add_argument("--size", type=positive_int, default=64, metavar="BYTES", help="echo and churn message size")
    p.add_argument("--duration", type=positive_float, default=3.0, metavar="SECONDS",
                   help="window per measurement, seconds")
    p.add_argument("--repetitions", type=positive_int, default=5, metavar="N")


def add_list_arguments(p) -> None:
    p.add_argument("--verbose", "-v", dest="verbose", action="count", default=argparse.SUPPRESS,
                   help="also each runner's options and each scenario's parameters and the runners it excludes, "
                        "with the reasons (default: one line each)")


def add_scenario_parameter_arguments(p) -> None:
    p.add_argument("--size", type=positive_int, metavar="BYTES",
                   help="scenario parameter (echo: message size; default: the scenario's, 64 for echo)")
    p.add_argument("--param", type=runner_option, action="append", default=[], metavar="NAME=VALUE",
                   help="a scenario parameter, e.g. iterations=3000 for cpu (see concbench list)")


def add_serve_arguments(p) -> None:
    p.add_argument("runner", type=runner_name)
    p.add_argument("scenario", type=scenario_name)
    p.add_argument("--port", type=port_number, required=True, help="0 picks a free port (printed on the ready line)")
    p.add_argument("--host", default="127.0.0.1")
    add_scenario_parameter_arguments(p)
    p.add_argument("--cpus", type=cpu_list, help="pin the server to these cpus, e.g. 0 or 0,1")
    p.add_argument("--option", "-O", type=runner_option, action="append", default=[], metavar="NAME=VALUE",
                   help="runner option NAME=VALUE, e.g. workers=8 for processes")
    p.add_argument("--backend", type=target, metavar="HOST:PORT",
                   help="backend scenario: the backend service to call (default: start one)")


def add_backend_service_arguments(p) -> None:
    p.add_argument("--port", type=port_number, required=True, help="0 picks a free port (printed on the ready line)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--cpus", type=cpu_list, help="pin the service to these cpus")


def add_load_arguments(p) -> None:
    p.add_argument("scenario", type=scenario_name)
    p.add_argument("--target", type=target, required=True, help="HOST:PORT")
    p.add_argument("--connections", type=positive_int, required=True, metavar="N")
    p.add_argument("--duration", type=positive_float, required=True, metavar="SECONDS",
                   help="measuring window, seconds")
    p.add_argument("--warmup", type=float, default=1.0, metavar="SECONDS",
                   help="discarded warm-up, seconds (default 1)")
    add_scenario_parameter_arguments(p)
    p.add_argument("--timeout", type=positive_float, default=2.0, metavar="SECONDS",
                   help="per-request timeout, seconds (default 2)")
    p.add_argument("--rate", type=positive_float, metavar="R",
                   help="open loop: send R requests/s in total on a fixed timetable (default: closed loop)")
    p.add_argument("--arrival", choices=("uniform", "poisson"), default="uniform",
                   help="open-loop timetable: evenly spaced or Poisson arrivals (default uniform)")
    p.add_argument("--cpus", type=cpu_list, help="pin the load generator to these cpus")
    p.add_argument("--engine", choices=("native", "uvloop"),
                   help="load-generator engine (default: native where it is built, else uvloop)")
    p.add_argument("--loadgen-procs", type=positive_int, default=1, metavar="N",
                   help="load-generator processes (connections and rate split between them, one per cpu "
                        "of --cpus in turn; histograms merged)")
    p.add_argument("--start-at", type=float, metavar="UNIX_TIME",
                   help="wait until this wall-clock time before connecting (to line up load generators on several "
                        "hosts)")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON to FILE ('-' for stdout)")
    p.add_argument("--events", action="store_true", help=argparse.SUPPRESS)  # JSON lines for the orchestrator


def add_report_arguments(p) -> None:
    p.add_argument("results", nargs="+", metavar="RESULT")
    p.add_argument("--output", default="reports",
                   help="folder for the reports, one subfolder per result (default: reports/)")


def add_verify_arguments(p) -> None:
    p.add_argument("--runners", nargs="+", metavar="RUNNER", help="default: all")
    p.add_argument("--scenarios", nargs="+", metavar="SCENARIO", help="default: all")


def add_merge_load_arguments(p) -> None:
    p.add_argument("parts", nargs="+", metavar="LOAD_JSON")
    p.add_argument("--json", metavar="FILE", help="write the merged report to FILE ('-' for stdout)")


def add_show_arguments(p) -> None:
    p.add_argument("result", metavar="RESULT")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", nargs="?", const="-", metavar="FILE",
                      help="the cases as JSON rows (figures, interval, verdict) to FILE, or stdout when no FILE or "
                           "'-' (default: the table)")
    form.add_argument("--csv", nargs="?", const="-", metavar="FILE",
                      help="the same rows as CSV (default: the table)")


def add_comparison_arguments(p) -> None:
    """The options `compare` and `ab` share: where the comparison goes, and what decides."""
    group = p.add_argument_group("comparison")
    group.add_argument("--json", metavar="FILE",
                       help="also write the comparison as JSON ('-': to stdout, the markdown then goes to stderr; "
                            "default: none)")
    group.add_argument("--markdown", metavar="FILE",
                       help="also write the markdown table, e.g. for a job summary ('-': stdout, where it is printed "
                            "anyway; default: none)")
    group.add_argument("--threshold", nargs="+", action="extend", metavar="METRIC=PCT",
                       help="override a threshold: throughput=10 p50=10 p99=20 memory=5 (the defaults)")
    group.add_argument("--normalize", metavar="RUNNER",
                       help="divide every figure by this runner's median at the same case in the same file")


def add_compare_arguments(p) -> None:
    p.add_argument("base", metavar="BASE", help="the reference result file")
    p.add_argument("head", metavar="HEAD", help="the result file under test")
    add_comparison_arguments(p)


def add_ab_arguments(p) -> None:
    group = p.add_argument_group("the two sides")
    group.add_argument("--a-ref", metavar="REV", help="the baseline revision (A), e.g. origin/main (default HEAD "
                                                     "when packages or interpreters are compared)")
    group.add_argument("--b-ref", metavar="REV", help="the revision under test (B), e.g. HEAD")
    group.add_argument("--a-pip", default="", metavar="'REQ ...'",
                       help="A's extra packages, pip specifiers in one argument, e.g. 'twisted==24.3.0' "
                            "(default none)")
    group.add_argument("--b-pip", default="", metavar="'REQ ...'", help="B's extra packages, e.g. 'twisted==24.10.0'")
    group.add_argument("--a-python", metavar="PATH", help="A's interpreter (default: the one running concbench)")
    group.add_argument("--b-python", metavar="PATH", help="B's interpreter, e.g. /usr/bin/python3.12")
    group.add_argument("--rounds", type=positive_int, default=3, metavar="N",
                       help="rounds; in each, every case is measured once for A and once for B (default 3)")
    add_suite_arguments(p)
    p.add_argument("--output-dir", metavar="DIR",
                   help="where a.json and b.json (the merged results) go (default: results/ab-<time>/)")
    add_comparison_arguments(p)


def add_regress_arguments(p) -> None:
    p.add_argument("--baseline", default="results/baseline.json", metavar="FILE",
                   help="wall-clock baseline (make baseline)")
    p.add_argument("--baseline-instructions", default="results/baseline-instructions.json", metavar="FILE",
                   help="instruction-count baseline (make baseline-instructions, on the same machine and Python)")
    p.add_argument("--output-dir", default="results", metavar="DIR", help="where regress-*.json go")
    p.add_argument("--allow-inconclusive", action="store_true",
                   help="inconclusive comparisons pass (default: they fail; env ALLOW_INCONCLUSIVE=1)")
    p.add_argument("--skip-wall", action="store_true", help="instruction counts only")
    p.add_argument("--threshold", action="append", default=[], metavar="METRIC=PCT", help="passed to compare")
