"""The key registry: every key a record or a result file's run metadata may carry, with type, unit, check and meaning;
writing an unknown key is an error, reading one is not (old files load), and a key no longer written stays, retired.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

# Where a key's value comes from when a file is written (concbench.results.format).
ORIGINS = {
    "record": "a measurement record's evidence (one run per repetition)",
    "identity": "the case and its runner (scenario, runner, parameters, level): every run of the case",
    "context": "the suite: command, profile, fairness settings, plan; every run of the file",
    "machine": "pyperf's collected machine metadata (pyperf's own registry names them)",
    "pyperf": "pyperf's own per-run keys",
    "merge": "added when files are merged (`ab`, `run --python`)",
}


class UnknownKey(ValueError):
    """A key that is not registered here (or retired) was about to be written."""


@dataclass(frozen=True)
class Key:
    name: str                   # the key, or a prefix when `prefix` (param_<name>, options_<runner>)
    type: type                  # int, float, str, bool (stored 0/1) or dict (stored "kind=n,kind=n")
    unit: str                   # "" when it has none
    origin: str                 # ORIGINS
    meaning: str
    check: Callable[[object], bool] | None = None
    check_text: str = ""        # the check in words, for the docs
    retired: bool = False       # no longer written; old files that carry it still load
    prefix: bool = False

    def problem(self, value) -> str | None:
        """None if `value` (as written, after conversion) passes the check, else what is wrong."""
        if self.check is not None and not self.check(value):
            return f"{self.name} is {value!r}, expected {self.check_text}"
        return None


def at_least(minimum: float) -> tuple[Callable[[object], bool], str]:
    return (lambda v: isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)) and v >= minimum,
            f"{minimum:g} or more")


def fraction() -> tuple[Callable[[object], bool], str]:
    return (lambda v: isinstance(v, (int, float)) and 0 <= v <= 1), "between 0 and 1"


def one_of(*values: str) -> tuple[Callable[[object], bool], str]:
    return (lambda v: v in values), "one of " + ", ".join(values)


def starts_with(*prefixes: str) -> tuple[Callable[[object], bool], str]:
    return (lambda v: isinstance(v, str) and v.startswith(prefixes)), "text starting " + " or ".join(prefixes)


NON_NEGATIVE = at_least(0)
COUNT = at_least(0)
STATUS = one_of("ok", "failed")

KEYS: dict[str, Key] = {}


def register(origin: str, name: str, type_: type, unit: str, meaning: str, check=None, *, prefix: bool = False,
             retired: bool = False) -> None:
    if name in KEYS:
        raise ValueError(f"key {name!r} registered twice")
    check_fn, check_text = check if check else (None, "")
    KEYS[name] = Key(name, type_, unit, origin, meaning, check_fn, check_text, retired, prefix)


def record(name, type_, unit, meaning, check=None):
    register("record", name, type_, unit, meaning, check)


# -- measurement records: the evidence of one repetition --------------------------------------------------------------
record("status", str, "", "ok, or failed: a failed repetition gives no figure", STATUS)
record("repetition", int, "count", "the repetition's number, from 0", COUNT)
record("measured_at", str, "", "when the measurement started (ISO 8601, UTC)")
record("first_error", str, "", "the first error, in words")
record("throughput_rps", float, "request/s", "verified replies per second in the window", NON_NEGATIVE)
record("requests", int, "count", "verified replies in the window", COUNT)
record("window_s", float, "s", "the measuring window", NON_NEGATIVE)
record("warmup_s", float, "s", "the discarded warm-up (also the suite's planned warm-up in run metadata)", NON_NEGATIVE)
record("timeout_s", float, "s", "a reply later than this is an error", NON_NEGATIVE)
for _p, _what in (("p50", "median"), ("p90", "90th percentile"), ("p99", "99th percentile"),
                  ("p99_9", "99.9th percentile"), ("max", "largest"), ("mean", "mean")):
    record(f"latency_{_p}_s", float, "s", f"{_what} latency of the window's verified replies (open loop: from the "
                                          f"intended send)", NON_NEGATIVE)
record("errors", int, "count", "errors of every kind", COUNT)
record("error_kinds", dict, "count", "errors by kind (reset, timeout, mismatch, starved, harness, ...)")
record("connections", int, "count", "connections the load generator was asked to open", COUNT)
record("connected", int, "count", "connections it opened", COUNT)
record("ramped", int, "count", "connections that proved they are served with one verified exchange", COUNT)
record("reconnects", int, "count", "connections reopened after the server closed them", COUNT)
record("served_connections", int, "count", "connections that got at least one verified reply", COUNT)
record("starved_connections", int, "count", "connections that got no reply within the timeout", COUNT)
record("loadgen_cpu_s", float, "s", "the load generator's CPU time in the window", NON_NEGATIVE)
record("loadgen_cpu_pct", float, "%", "the load generator's CPU time over the window", NON_NEGATIVE)
record("loadgen_cores", str, "", "the load generator's cpus")
record("loadgen_idle_polling_s", float, "s", "native engine: CPU time spent polling for replies that found none "
       "(busy-waiting a quiet core would have idled); left out of loadgen_cpu_s and loadgen_core_busy_pct",
       NON_NEGATIVE)
record("loadgen_core_busy_pct", float, "%", "how busy the load generator's busiest core was, less the harness's own "
       "sampling on it (harness_cpu_s)", NON_NEGATIVE)
record("harness_cpu_s", float, "s", "CPU time of concbench's own process (sampling the server, on the load "
       "generator's cores) in the window; left out of loadgen_core_busy_pct", NON_NEGATIVE)
record("loadgen_parts", int, "count", "load generator processes merged into the record (run --loadgen-procs)",
       at_least(1))
record("client_bound", bool, "", "the load generator's core was over 90% busy: a lower bound")
record("server_cpu_s", float, "s", "the server's CPU time in the window, all its processes", NON_NEGATIVE)
record("server_cpu_pct", float, "%", "server CPU time over the window (100 = one core)", NON_NEGATIVE)
record("server_core_busy_pct", float, "%", "how busy the server's cores were", NON_NEGATIVE)
record("server_cpu_count", int, "count", "the server's cpus", COUNT)
record("server_cpu_per_request_s", float, "s", "server CPU time per verified reply", NON_NEGATIVE)
record("server_saturated", bool, "", "the server used its cores (90% or more of them)")
for _m, _what in (("rss", "resident set size"), ("uss", "unique set size"),
                  ("pss", "proportional set size (shared pages divided among the processes sharing them)")):
    record(f"server_{_m}_bytes", int, "B", f"the server's {_what}, peak in the window, all processes", COUNT)
record("server_threads", int, "count", "the server's threads, peak", COUNT)
record("server_processes", int, "count", "the server's processes, peak", COUNT)
record("server_context_switches_per_s", float, "1/s", "the server's context switches per second", NON_NEGATIVE)
record("verified_replies_total", int, "count", "verified replies in every phase (ramp-up, warm-up, window)", COUNT)
record("backend_calls", int, "count", "calls the backend service answered (-1: no count from it)", at_least(-1))
record("backend_calls_per_reply", float, "", "backend calls per verified reply (1 or more when valid)", NON_NEGATIVE)
record("server_pool", str, "", "the pool size the server reported on its ready line: 'unbounded' or a count")
record("engine", str, "", "the load generator's engine (native, uvloop; merged parts: joined by +)")
record("mode", str, "", "closed or open loop", one_of("closed", "open"))
record("arrival", str, "", "open loop: the timetable of sends", one_of("uniform", "poisson"))
record("achieved_ratio", float, "", "open loop: achieved over offered rate", NON_NEGATIVE)
record("overloaded", bool, "", "open loop: achieved under 99% of offered, or behind its timetable")
record("schedule_backlog_end", float, "count", "open loop: sends still waiting for their slot at the window's end")
for _p in ("p50", "p99", "p99_9", "max"):
    record(f"latency_uncorrected_{_p}_s", float, "s", f"open loop: {_p.replace('_', '.')} latency from the actual "
                                                      f"send (uncorrected)", NON_NEGATIVE)
record("schedule_lateness_p99_s", float, "s", "open loop: how late the load generator's own sends were, p99")
record("schedule_lateness_max_s", float, "s", "open loop: the latest send")
record("latency_histogram", str, "", "the window's latencies (concbench.results.histogram encoding)")
record("latency_uncorrected_histogram", str, "", "open loop: latencies from the actual send, encoded")
record("verification", str, "", "what was verified when not every byte (wrk: status codes and socket errors)")
# concbench memory (idle connections): figures per level as comma-separated integers, fits as floats
record("benchmark", str, "", "the kind of a study's record (concbench.results.kinds): memory-idle, "
                             "stream-backpressure", one_of("memory-idle", "stream-backpressure"))
record("memory_levels", str, "", "memory: the connection levels held, comma-separated")
record("memory_mode", str, "", "memory: one server for all levels, or a server per level (pre-forked workers)")
record("warm_connections", int, "count", "memory: connections that exchanged messages before the levels", COUNT)
record("connections_held", str, "", "memory: connections held at each level, comma-separated")
record("settle_s_at_levels", str, "", "memory: seconds waited for memory to settle at each level")
record("kernel_method", str, "", "memory: how kernel memory was read (cgroup2 or meminfo with calibration)")
record("kernel_client_socket_bytes", int, "B", "memory: the client's share of socket memory, removed")
record("threads_per_connection", float, "count", "memory: fitted threads per idle connection")
record("threads_fixed", float, "count", "memory: fitted threads at no connection")
MEMORY_SAMPLES = ("rss", "uss", "pss", "vms", "kernel", "threads", "kernel_sock", "kernel_slab", "kernel_kernel_stack",
                  "kernel_pagetables")
MEMORY_METRICS = ("rss", "uss", "pss", "vms", "kernel")
for _kind in MEMORY_SAMPLES:
    unit = "count" if _kind == "threads" else "B"
    record(f"{_kind}_at_levels", str, unit, f"memory: {_kind} at each level, comma-separated integers")
    record(f"baseline_{_kind}", int, unit, f"memory: {_kind} before any connection (kernel: the client's share removed, "
                                           f"so it can be negative)")
for _kind in MEMORY_METRICS:
    record(f"{_kind}_per_connection_bytes", float, "B", f"memory: {_kind} per idle connection, the fitted slope "
                                                        f"(noise can make it negative)")
    record(f"{_kind}_fixed_bytes", float, "B", f"memory: {_kind} at no connection, the fitted intercept")
# run --slow-clients: the trickler's evidence (concbench.clients.slow_clients)
record("slow_clients", int, "count", "slow clients trickling alongside (0 included; also in the case's identity)",
       COUNT)
record("slow_connected", int, "count", "slow clients connected", COUNT)
record("slow_held", int, "count", "slow clients still connected at the end", COUNT)
record("slow_requests", int, "count", "slow clients' verified replies", COUNT)
record("slow_served_connections", int, "count", "slow clients with at least one verified reply", COUNT)
record("slow_waiting", int, "count", "slow clients waiting for a reply at the end", COUNT)
record("slow_errors", int, "count", "slow clients' errors", COUNT)
record("slow_error_kinds", dict, "count", "slow clients' errors by kind")
record("slow_first_error", str, "", "slow clients' first error, in words")
record("slow_stopped_by", str, "", "what stopped the trickler (its deadline, or the harness)")
record("slow_seconds", float, "s", "how long the slow clients ran", NON_NEGATIVE)
record("slow_cpu_s", float, "s", "the trickler's CPU time", NON_NEGATIVE)
record("slow_step_bytes", int, "B", "bytes a slow client sends at a time", COUNT)
record("slow_interval_s", float, "s", "a slow client's pause between steps", NON_NEGATIVE)
# repetitions until stable (concbench.studies.repetitions)
record("case_unstable", bool, "", "the case's throughput interval is wider than the stop rule allows")
record("case_interval_half_width", float, "", "the case's 95% throughput interval, as a fraction of its centre",
       NON_NEGATIVE)
record("case_stability_hint", str, "", "what to do about an unstable case")
record("slot", str, "", "the measurement's place in the plan, 'repetition:case' (run --resume)")
# run --measure instructions (concbench.studies.instructions)
record("measure", str, "", "what was measured: instructions (absent: wall clock)", one_of("instructions"))
record("instructions", int, "instruction", "callgrind's count over the server's processes, less their per-second "
       "work (instructions_time_driven)", COUNT)
record("instructions_counted", int, "instruction", "callgrind's raw count over the window, before the per-second "
       "work is taken out", COUNT)
record("instructions_idle_per_s", float, "instruction/s", "the server processes' instructions per second while "
       "idle (their timers), from a dump after the window", NON_NEGATIVE)
record("instructions_time_driven", int, "instruction", "the idle rate times each process's window: what was "
       "taken out of instructions_counted", COUNT)
record("instructions_per_request", float, "instruction", "instructions per verified request", NON_NEGATIVE)
record("instructions_per_connection", float, "instruction", "churn: instructions per connection", NON_NEGATIVE)
record("requests_planned", int, "count", "requests the counted client was to send", COUNT)
record("warmup_requests", int, "count", "requests sent before counting", COUNT)
record("valgrind_version", str, "", "valgrind's version")
record("gc_collected_processes", int, "count", "server processes that ran a full garbage collection just before "
       "the counted window (every one of them, or the measurement failed)", COUNT)
record("unsettled_rounds", int, "count", "rounds the counted client waited for the server to settle", COUNT)
# concbench backpressure (the stream scenario)
for _name, _unit, _meaning in (
        ("stream_size", "B", "payload per connection"), ("stream_chunk", "B", "bytes per server write"),
        ("fast_readers", "count", "readers reading at full speed"), ("slow_readers", "count", "rate-limited readers"),
        ("slow_rcvbuf", "B", "SO_RCVBUF a slow reader asks for"), ("fast_bytes", "B", "bytes the fast readers verified"),
        ("fast_streams", "count", "streams the fast readers completed"),
        ("slow_bytes", "B", "bytes the slow readers verified"), ("slow_streams", "count", "slow readers' streams"),
        ("connections_opened", "count", "connections opened (churn, instructions: per connection)"),
        ("starved_fast", "count", "fast readers that got nothing"),
        ("server_peak_rss_bytes", "B", "the server's peak resident set size over warm-up and window"),
        ("server_peak_uss_bytes", "B", "the server's peak unique set size"),
        ("server_peak_pss_bytes", "B", "the server's peak proportional set size"),
        ("server_baseline_rss_bytes", "B", "the server's resident set size before any reader"),
        ("memory_samples", "count", "server memory samples taken"),
        ("processes_workers", "count", "pre-forked workers the server was given")):
    record(_name, int, _unit, f"backpressure: {_meaning}" if _name != "connections_opened" else _meaning, COUNT)
for _name, _unit, _meaning in (
        ("slow_rate_target_b_s", "B/s", "the rate a slow reader reads at"),
        ("fast_mb_s", "MB/s", "verified MB (10^6 bytes) per second to the fast readers, summed"),
        ("fast_reader_min_mb_s", "MB/s", "the slowest fast reader's rate"),
        ("slow_rate_median_b_s", "B/s", "the median slow reader's verified rate"),
        ("slow_rate_min_b_s", "B/s", "the slowest slow reader's rate"),
        ("slow_rate_max_b_s", "B/s", "the fastest slow reader's rate"),
        ("sample_interval_s", "s", "how often server memory was sampled (also run metadata)")):
    record(_name, float, _unit, f"backpressure: {_meaning}", NON_NEGATIVE)

# -- identity: the case and its runner, on every run of the case -------------------------------------------------------
for _name, _type, _unit, _meaning in (
        ("scenario", str, "", "the scenario (concbench.registry)"),
        ("runner", str, "", "the runner, as it was named when measured"),
        ("runner_model", str, "", "the runner's concurrency model, in words"),
        ("framework", str, "", "the distribution whose version is recorded (python: the standard library)"),
        ("framework_version", str, "", "its version"),
        ("variant_of", str, "", "the runner it is a variant of (itself for a base runner)"),
        ("runner_loop", str, "", "the event loop under the runner, with its version"),
        ("fixed_options", str, "", "a variant's fixed options, name=value,..."),
        ("runner_external", str, "", "plugin or command: a server from outside the suite"),
        ("runner_module", str, "", "a plugin runner's module"),
        ("server_command", str, "", "run --server-cmd: the command that served"),
        ("offered_connections", int, "count", "the connections offered (the level)"),
        ("offered_rate", float, "request/s", "open loop: the offered rate, all connections")):
    register("identity", _name, _type, _unit, _meaning, NON_NEGATIVE if _type in (int, float) else None)
register("identity", "param_", int, "", "a scenario parameter, param_<name> (size, delay_ms, iterations, ...)",
         prefix=True)

# -- context: the suite, on every run of the file ----------------------------------------------------------------------
for _name, _type, _unit, _meaning in (
        ("concbench_format", int, "", "the result format's version (concbench.results.format.FORMAT_VERSION)"),
        ("concbench_version", str, "", "concbench's version"),
        ("git_commit", str, "", "the commit measured (-dirty: with uncommitted changes)"),
        ("command", str, "", "the command line"),
        ("profile", str, "", "the profile: default, quick, full (memory, backpressure: the study)"),
        ("window_s_planned", float, "s", "the planned measuring window"),
        ("repetitions", int, "count", "repetitions (the minimum, when repeating until stable)"),
        ("max_repetitions", int, "count", "the most repetitions a case may get"),
        ("stability_budget_s", float, "s", "seconds allowed for extra rounds"),
        ("p99_target_s", float, "s", "capacity search: the p99 latency target"),
        ("server_cpus", str, "", "the server's cpus"),
        ("loadgen_cpus", str, "", "the load generator's cpus"),
        ("loadgen", str, "", "the load generator: concbench or wrk"),
        ("loadgen_engine", str, "", "the load generator's engine for the suite"),
        ("backlog", int, "count", "the listener's backlog (concbench.fairness)"),
        ("recv_size", int, "B", "bytes per recv (concbench.fairness)"),
        ("python_version", str, "", "the Python running concbench (also collected by pyperf)"),
        ("transparent_hugepages", str, "", "/sys/kernel/mm/transparent_hugepage/enabled"),
        ("malloc_arena_max", str, "", "MALLOC_ARENA_MAX (memory, backpressure: the server's)"),
        ("plan_id", str, "", "a hash of what the plan measures and how (run --resume)"),
        ("planned_measurements", int, "count", "measurements in the plan"),
        ("run_args", str, "", "the run's arguments as JSON (run --resume)"),
        ("memory_budget_bytes", int, "B", "backpressure: the memory a plan may use"),
        ("memory_process_levels", str, "", "memory: the levels of pre-forked servers"),
        ("open_file_limit", int, "count", "memory: the open-file limit"),
        ("instructions_requests", int, "count", "run --measure instructions: requests counted per measurement"),
        ("instructions_warmup_requests", int, "count", "run --measure instructions: requests before counting"),
        ("instructions_env", str, "", "run --measure instructions: the server's environment for repeatable counts")):
    register("context", _name, _type, _unit, _meaning, NON_NEGATIVE if _type in (int, float) else None)
register("context", "run_state", str, "", "complete, running: k of n measured, interrupted after k of n (SIGNAL), "
                                         "or crashed after k of n (ERROR)",
         starts_with("complete", "running: ", "interrupted after ", "crashed after "))
register("context", "options_", str, "", "a runner's options, options_<runner> = name=value,...", prefix=True)

# -- machine: what pyperf collects (pyperf._collect_metadata) ----------------------------------------------------------
for _name, _type, _meaning in (
        ("perf_version", str, "pyperf's version"), ("date", str, "when the metadata was collected"),
        ("python_implementation", str, "the Python implementation"),
        ("python_executable", str, "the Python executable"), ("timer", str, "the timer and its resolution"),
        ("python_hash_seed", str, "PYTHONHASHSEED (random, or the seed)"), ("python_compiler", str, "the compiler Python was built with"),
        ("python_cflags", str, "Python's compiler flags"), ("python_config_args", str, "Python's configure arguments"),
        ("python_gc", str, "whether the garbage collector was disabled"), ("aslr", str, "address space randomisation"),
        ("platform", str, "the platform"), ("load_avg_1min", float, "the load average"),
        ("runnable_threads", int, "runnable threads when collected"), ("hostname", str, "the host's name"),
        ("boot_time", str, "when the machine booted"), ("uptime", float, "seconds since boot"),
        ("mem_max_rss", int, "concbench's own peak resident set size"),
        ("mem_peak_pagefile_usage", int, "Windows: peak page file usage"), ("cpu_freq", str, "cpu frequencies"),
        ("cpu_config", str, "cpu configuration (governor, isolation, ...)"), ("cpu_temp", str, "cpu temperatures"),
        ("cpu_affinity", str, "concbench's cpu affinity"), ("cpu_quota", str, "the cgroup cpu quota"),
        ("cpu_model_name", str, "the cpu model"), ("cpu_machine", str, "the machine type"),
        ("cpu_count", int, "logical cpus")):
    register("machine", _name, _type, {"uptime": "s", "mem_max_rss": "B", "mem_peak_pagefile_usage": "B"}.get(_name, ""),
             _meaning)

# -- pyperf's per-run keys, and concbench's metric name -----------------------------------------------------------------
register("pyperf", "name", str, "", "the benchmark's name: scenario/params/c=N[/rate=R][/slow=S]/runner/metric")
register("pyperf", "unit", str, "", "the values' unit", one_of("second", "byte", "integer"))
register("pyperf", "metric", str, "", "measurement, or the metric a benchmark holds (time-per-request, latency-p99, ...)")
register("pyperf", "duration", float, "s", "the measurement's wall time (metric runs: 0, derived)", NON_NEGATIVE)

# -- merge: tags added to the runs of merged files ---------------------------------------------------------------------
for _name, _meaning in (
        ("ab_variant", "ab: A or B"), ("ab_ref", "ab: the revision as given"), ("ab_command", "ab: the command"),
        ("ab_pip", "ab: the packages installed besides the revision"), ("ab_python", "ab: the interpreter"),
        ("runner_untagged", "run --python: the runner's name before the interpreter was added to it"),
        ("server_python", "run --python: the server's interpreter and version"),
        ("server_python_path", "run --python: the server's interpreter, resolved")):
    register("merge", _name, str, "", _meaning)
register("merge", "server_python_free_threaded", bool, "", "run --python: a free-threaded interpreter")

# A record may carry these besides its evidence; they never reach a file as they are (each reason says why).
NOT_WRITTEN = {
    "measured_wall_s": "written as the measurement run's pyperf `duration`",
    "params": "the case's parameters, written from the case as param_<name>",
    "target": "the throwaway server's host:port, meaningless once it is stopped",
}
PRIVATE_PREFIX = "_"            # a record's in-process working values (e.g. _pids): never written


def lookup(name: str) -> Key | None:
    """The key registered for `name` (a prefixed family matches its members), or None."""
    key = KEYS.get(name)
    if key is not None and not key.prefix:
        return key
    for family in (k for k in KEYS.values() if k.prefix):
        if name.startswith(family.name) and len(name) > len(family.name):
            return family
    return None


def writable(name: str) -> Key:
    """The key to write `name` as; UnknownKey for a key that is not registered or retired."""
    key = lookup(name)
    if key is None:
        raise UnknownKey(f"result key {name!r} is not registered in concbench.results.keys; register it (type, unit, "
                         f"check, meaning) or leave it out of the record")
    if key.retired:
        raise UnknownKey(f"result key {name!r} is retired: files keep loading with it, but it is no longer written")
    return key


def stored(key: Key, value):
    """`value` as a file stores it (booleans 0/1, dicts kind=n,..., text on one line); None: not stored."""
    if key.type is dict:
        return ",".join(f"{k}={v}" for k, v in sorted(value.items())) or None
    if key.type is bool:
        return int(bool(value))
    if key.type is str:
        return str(value).replace("\n", " ").strip() or None
    return key.type(value)


def checked(name: str, value):
    """`value` stored for writing under `name`: UnknownKey for an unregistered key, ValueError if the check refuses."""
    key = writable(name)
    value = stored(key, value)
    if value is not None:
        problem = key.problem(value)
        if problem:
            raise ValueError(f"result key {problem}")
    return value


def check_metadata(metadata: dict) -> None:
    """Every key of a run's metadata is registered, not retired, and passes its check (values as stored)."""
    for name, value in metadata.items():
        problem = writable(name).problem(value)
        if problem:
            raise ValueError(f"result key {problem}")


def record_types() -> dict[str, type]:
    """name -> type of a measurement record's evidence keys, which a reader types strictly (retired ones included)."""
    return {name: key.type for name, key in KEYS.items() if key.origin == "record"}


def markdown_table() -> str:
    """The key table of docs/result-format.md: every key by origin, with type, unit, check and meaning."""
    lines = []
    for origin, heading in ORIGINS.items():
        keys = [k for k in KEYS.values() if k.origin == origin]
        lines += [f"### {origin}: {heading} ({len(keys)})", "", "| key | type | unit | check | meaning |",
                  "|---|---|---|---|---|"]
        for key in keys:
            name = f"`{key.name}<name>`" if key.prefix else f"`{key.name}`"
            meaning = key.meaning + (" **(retired: no longer written)**" if key.retired else "")
            lines.append(f"| {name} | {key.type.__name__} | {key.unit} | {key.check_text} | {meaning.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
