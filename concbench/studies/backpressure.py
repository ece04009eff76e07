"""`concbench backpressure`: the stream scenario with F fast and S slow readers, per runner: fast-reader MB/s
and the server's peak memory, to show which runners bound memory under slow readers and which do not.

It owns the sequence (fresh server per measurement, the stream client in its own process, server memory
sampled every 50 ms over warm-up and window, server CPU over the window), the memory-budget refusal and
the command's arguments. Result files: concbench.results.format; table and chart: analysis.backpressure.
"""
from __future__ import annotations

import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

from concbench import cpu, fairness, registry
from concbench.errors import UsageError
from concbench.harness.event_child import run_event_child
from concbench.harness.sampling import process_tree, tree_cpu_seconds, tree_memory
from concbench.clients.native_engine import loadgen_engine
from concbench.harness.server_process import ServerFailed, ServerProcess
from concbench.results.kinds import BACKPRESSURE

BENCHMARK = BACKPRESSURE.benchmark     # what marks its records (concbench.results.kinds)
SLOW_LEVELS = (0, 1, 4, 16)
FAST_READERS = 2
REPETITIONS = 3
WARMUP_S = 1.0
WINDOW_S = 3.0
SLOW_RATE = 1 << 20              # bytes/s per slow reader (1 MiB/s)
SLOW_RCVBUF = 16384              # SO_RCVBUF asked for by a slow reader (Linux doubles it)
MEMORY_BUDGET_GIB = 8.0          # refuse a plan whose worst case would not fit; also a kill switch per run
SAMPLE_INTERVAL_S = 0.05
QUEUE_FACTOR = 1.125             # a queued payload's buffer: asyncio's bytearray over-allocates by 1/8
# plus one transient copy of a whole payload (Twisted joins its queued chunks into one bytes before sending)
SERVER_ALLOWANCE = 512 << 20     # what any server may take besides queued payloads
SERVER_ENV = {"MALLOC_ARENA_MAX": "2"}
GIB = 1 << 30


def is_unbounded(runner: str) -> bool:
    return registry.RUNNERS[runner].has("unbounded_writes")


def worst_case_bytes(runner: str, fast: int, slow: int, size: int) -> int:
    """An unbounded server may queue a whole payload per open connection; a bounded one a few chunks."""
    queued = ((fast + slow) * QUEUE_FACTOR + 1) * size if is_unbounded(runner) else 0
    return int(queued + SERVER_ALLOWANCE)


def check_memory(runners, fast: int, levels, size: int, budget: int, available: int) -> None:
    """Refuse, before anything starts, a plan whose worst case exceeds the budget or the memory available."""
    limit = min(budget, available)
    worst = max(runners, key=lambda r: worst_case_bytes(r, fast, max(levels), size))
    need = worst_case_bytes(worst, fast, max(levels), size)
    if need <= limit:
        return
    fitting = [s for s in range(max(levels) + 1) if worst_case_bytes(worst, fast, s, size) <= limit]
    what = "the budget (--memory-budget)" if budget <= available else "the memory available now"
    hint = f"use --slow up to {fitting[-1]}" if fitting else "use a smaller --size or fewer --fast readers"
    raise UsageError(f"worst case {worst} with {fast} fast + {max(levels)} slow readers of {size / (1 << 20):g} MiB "
                     f"may queue about {need / GIB:.1f} GiB, over {what} of {limit / GIB:.1f} GiB: {hint}, "
                     f"a smaller --size, or drop the unbounded runners")


class PeakSampler:
    """Server memory (whole process tree) every SAMPLE_INTERVAL_S in a background thread: peaks, and a kill
    switch that SIGKILLs the server's process group (ours, by pid) if its RSS passes the budget."""

    def __init__(self, server: ServerProcess, budget: int):
        self.server, self.budget = server, budget
        self.peak = {"rss": 0, "uss": 0, "pss": 0, "threads": 0, "processes": 0}
        self.samples = 0
        self.over_budget = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="peak-sampler", daemon=True)

    def sample(self) -> dict:
        memory = tree_memory(process_tree(self.server.pid))
        for key in self.peak:
            self.peak[key] = max(self.peak[key], memory[key])
        self.samples += 1
        if memory["rss"] > self.budget and not self.over_budget:
            self.over_budget = True
            self.server.kill()               # its own process group, started by us
        return memory

    def _loop(self):
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self.sample()

    def start(self) -> dict:
        baseline = self.sample()
        self._thread.start()
        return baseline

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def run_client(port: int, params: dict, fast: int, slow: int, settings: dict, loadgen_cpus, on_event) -> dict:
    """The stream client in its own process (pinned to the load generator's cpus); its report or a failure."""
    command = [sys.executable, "-m", "concbench.clients.stream_client", "--target", f"127.0.0.1:{port}",
               "--size", str(params["size"]), "--fast", str(fast), "--slow", str(slow),
               "--slow-rate", repr(settings["slow_rate"]), "--slow-rcvbuf", str(settings["slow_rcvbuf"]),
               "--warmup", repr(settings["warmup_s"]), "--window", repr(settings["window_s"]), "--events"]
    if loadgen_cpus:
        command += ["--cpus", ",".join(map(str, loadgen_cpus))]
    deadline_s = settings["warmup_s"] + settings["window_s"] + 60.0
    result, reason = run_event_child(command, deadline_s, on_event, "stream client")
    return result if result is not None else failed_record(reason)


def failed_record(reason: str) -> dict:
    return {"status": "failed", "first_error": reason, "errors": 1, "error_kinds": {"harness": 1}}


def measure(runner: str, params: dict, fast: int, slow: int, settings: dict, options: dict,
            server_cpus, loadgen_cpus) -> dict:
    """One measurement with a fresh server; failures become a failed record, never a figure."""
    options = dict(options)
    if registry.RUNNERS[runner].has("worker_per_connection") and "workers" not in options:
        options["workers"] = str(fast + slow)     # one worker per reader, or the rest would starve
    try:
        server = ServerProcess(runner, "stream", params, server_cpus, options, env=SERVER_ENV).start()
    except ServerFailed as exc:
        return failed_record(f"server: {exc}")
    sampler = PeakSampler(server, settings["budget"])
    window: dict = {}
    baseline = {"rss": 0}

    def on_event(name):
        tree = process_tree(server.pid)
        window[name] = (tree_cpu_seconds(tree), cpu.read_cores(), time.monotonic())

    try:
        baseline = sampler.start()
        record = run_client(server.port, params, fast, slow, settings, loadgen_cpus, on_event)
        sampler.stop()
        if sampler.over_budget:
            record = failed_record(f"server passed the memory budget ({settings['budget'] / GIB:.1f} GiB RSS) "
                                   f"and was killed")
        elif not server.alive():
            record = failed_record(f"server died during the run: {server.last_words()}")
    finally:
        sampler.stop()
        server.stop()
    record.update({
        "server_peak_rss_bytes": sampler.peak["rss"], "server_peak_uss_bytes": sampler.peak["uss"],
        "server_peak_pss_bytes": sampler.peak["pss"], "server_baseline_rss_bytes": baseline["rss"],
        "server_threads": sampler.peak["threads"], "server_processes": sampler.peak["processes"],
        "memory_samples": sampler.samples, "sample_interval_s": SAMPLE_INTERVAL_S,
        "stream_chunk": params["chunk"], "stream_size": params["size"],
        "fast_readers": fast, "slow_readers": slow,
    })
    if options.get("workers"):
        record["processes_workers"] = int(options["workers"])
    if "window_start" in window and "window_end" in window:
        (cpu0, cores0, t0), (cpu1, cores1, t1) = window["window_start"], window["window_end"]
        record.update(server_cpu_s=cpu1 - cpu0, server_cpu_pct=100.0 * (cpu1 - cpu0) / max(t1 - t0, 1e-9))
        if server_cpus:
            record["server_core_busy_pct"] = cpu.busy_pct(cores0, cores1, server_cpus)
    return record


def add_backpressure_arguments(p) -> None:
    from concbench.cli import cpu_list, positive_float, positive_int
    p.add_argument("--runners", nargs="+", metavar="RUNNER",
                   help="runners, like run --runners (default: the default suite and the unbounded variants)")
    p.add_argument("--slow", type=int, nargs="+", metavar="S",
                   help=f"numbers of slow readers (default {' '.join(map(str, SLOW_LEVELS))})")
    p.add_argument("--fast", type=int, default=FAST_READERS, help=f"fast readers (default {FAST_READERS})")
    p.add_argument("--slow-rate", type=positive_int, default=SLOW_RATE,
                   help=f"bytes/s per slow reader (default {SLOW_RATE}, 1 MiB/s)")
    p.add_argument("--slow-rcvbuf", type=positive_int, default=SLOW_RCVBUF,
                   help=f"SO_RCVBUF of a slow reader's socket (default {SLOW_RCVBUF})")
    p.add_argument("--size", type=positive_int, help="payload bytes per connection (default 256 MiB)")
    p.add_argument("--chunk", type=positive_int, help="bytes per server write (default 64 KiB)")
    p.add_argument("--repetitions", type=positive_int, default=REPETITIONS, help="fresh servers per cell (default 3)")
    p.add_argument("--warmup", type=float, default=WARMUP_S, help=f"seconds before the window (default {WARMUP_S:g})")
    p.add_argument("--window", type=positive_float, default=WINDOW_S, help=f"measuring window, s (default {WINDOW_S:g})")
    p.add_argument("--memory-budget", type=positive_float, default=MEMORY_BUDGET_GIB,
                   help=f"GiB the worst case may take; also the kill switch per run (default {MEMORY_BUDGET_GIB:g})")
    p.add_argument("--server-cpus", type=cpu_list, help="cpus for the server (default: the first)")
    p.add_argument("--loadgen-cpus", type=cpu_list, help="cpus for the stream client (default: the second)")
    p.add_argument("--option", "-O", action="append", default=[], metavar="RUNNER:NAME=VALUE", help="a runner option")
    p.add_argument("-o", "--output", help="result file (default: results/backpressure-<time>.json)")
    p.add_argument("--no-chart", action="store_true", help="skip the chart")


def format_outcome(record: dict) -> str:
    peak = f"peak RSS {record.get('server_peak_rss_bytes', 0) / (1 << 20):,.0f} MiB"
    if record["status"] != "ok":
        return f"FAILED: {record.get('first_error', '')} ({peak})"
    starved = f", {record['starved_connections']} starved" if record.get("starved_connections") else ""
    slow = (f"slow median {record['slow_rate_median_b_s'] / 1e6:.2f} MB/s, " if record.get("slow_readers") else "")
    return (f"fast {record['fast_mb_s']:,.0f} MB/s, {slow}{peak}, server cpu {record.get('server_cpu_pct', 0):.0f}%, client core "
            f"{record['loadgen_core_busy_pct']:.0f}%{starved}")


def cmd_backpressure(args) -> int:
    from dataclasses import replace

    from concbench.analysis.backpressure import backpressure_table, write_backpressure_chart

    from concbench.studies.orchestrate import PROFILES, rotated, runner_options
    from concbench.results.format import RunContext, write_stream_suite
    try:
        runners = registry.select(args.runners, registry.RUNNERS, "runner", registry.default_stream_runners())
        given = {k: v for k, v in (("size", args.size), ("chunk", args.chunk)) if v is not None}
        params = registry.SCENARIOS["stream"].parse_params(given)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for runner in runners:
        reason = registry.applicable(runner, "stream")
        if reason:
            raise UsageError(f"{runner} cannot serve stream ({reason}); drop it")
    levels = tuple(sorted(set(args.slow if args.slow is not None else SLOW_LEVELS)))
    if min(levels) < 0:
        raise UsageError(f"--slow must be 0 or more, got {min(levels)}")
    if args.fast < 0:
        raise UsageError(f"--fast must be 0 or more, got {args.fast}")
    if args.fast == 0 and max(levels) == 0:
        raise UsageError("no reader at all: give --fast 1 or more, or a --slow level above 0")
    if args.warmup < 0:
        raise UsageError(f"--warmup must be 0 or more, got {args.warmup:g}")
    options = runner_options(args.option, runners)
    budget = int(args.memory_budget * GIB)
    check_memory(runners, args.fast, levels, params["size"], budget, psutil.virtual_memory().available)
    limit = fairness.raise_open_file_limit()
    if args.fast + max(levels) + 64 > limit:
        raise UsageError(f"{args.fast + max(levels)} readers need more open files than the limit ({limit})")
    default_server, default_loadgen = fairness.default_cpu_split()
    server_cpus = args.server_cpus or default_server
    loadgen_cpus = args.loadgen_cpus or default_loadgen
    fairness.pin_to_cpus(loadgen_cpus)        # the harness's own sampling stays off the server's core
    settings = {"slow_rate": float(args.slow_rate), "slow_rcvbuf": args.slow_rcvbuf, "warmup_s": args.warmup,
                "window_s": args.window, "budget": budget}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    output = Path(args.output) if args.output else Path("results") / f"backpressure-{stamp}.json"
    profile = replace(PROFILES["default"], name="backpressure", connections=levels, warmup_s=args.warmup,
                      window_s=args.window, repetitions=args.repetitions)
    context = RunContext.collect(profile, runners, ["stream"], server_cpus, loadgen_cpus, options, sys.argv,
                                 loadgen_engine(profile.engine))
    context.metadata.update(malloc_arena_max=SERVER_ENV["MALLOC_ARENA_MAX"] + " (server)",
                            memory_budget_bytes=budget, sample_interval_s=SAMPLE_INTERVAL_S)
    order = [(rep, slow, runner) for rep in range(args.repetitions) for slow in levels
             for runner in rotated(runners, rep)]
    print(f"concbench backpressure: {len(runners)} runners x {len(levels)} slow-reader levels "
          f"({','.join(map(str, levels))}) x {args.repetitions} repetitions; {args.fast} fast readers, slow readers at "
          f"{args.slow_rate / (1 << 20):g} MiB/s; payload {params['size'] / (1 << 20):g} MiB in "
          f"{params['chunk'] / 1024:g} KiB writes; warm-up {args.warmup:g} s, window {args.window:g} s; server on cpu "
          f"{','.join(map(str, server_cpus))}, client on cpu {','.join(map(str, loadgen_cpus))}", flush=True)
    from concbench.results.run_file import marked           # the file is rewritten after every measurement (an interrupt keeps them)
    measurements, started = [], time.monotonic()
    for done, (rep, slow, runner) in enumerate(order):
        elapsed = int(time.monotonic() - started)
        print(f"[{done + 1:>3}/{len(order)} {elapsed // 60:02d}:{elapsed % 60:02d}] rep {rep + 1}/{args.repetitions} "
              f"slow={slow:<3} {runner:<18}", end=" ", flush=True)
        began = time.monotonic()
        record = measure(runner, params, args.fast, slow, settings, options.get(runner, {}), server_cpus, loadgen_cpus)
        record.update(benchmark=BENCHMARK, repetition=rep, measured_wall_s=time.monotonic() - began,
                      measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        print(format_outcome(record), flush=True)
        measurements.append((runner, record))
        write_stream_suite(output, marked(context, f"running: {len(measurements)} of {len(order)} measured"), measurements)
    write_stream_suite(output, marked(context, "complete"), measurements)
    print(f"\nfinished in {time.monotonic() - started:.0f} s; results: {output}\n")
    print(backpressure_table(output))
    if not args.no_chart:
        print(f"\nchart: {write_backpressure_chart(output)}")
    return 0
