"""`concbench run`: the suite as a study of the pipeline (concbench.studies.pipeline), measurement by measurement.

It owns what a run measures and how: the cases of a RunPlan, their repetition-major rotated order (with the stop
rule of concbench.studies.repetitions), one fresh server per measurement (a backend service and slow clients beside
it when the case asks), the load generator in its own process with the sampler around its window, the rate search,
and the conclusion (summary and capacity tables, the report, exit 4 for a runner broken in every repetition).
Result files: concbench.results; tables and charts: concbench.analysis.
"""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from concbench import fairness, registry
from concbench.analysis.capacity import capacity_table, meets_target
from concbench.analysis.instructions import instructions_table
from concbench.analysis.report import write_report
from concbench.analysis.table import summary_table
from concbench.clients import native_engine, wrk
from concbench.clients.slow_clients import (SlowClients, SlowClientsFailed, add_slow_evidence,
                                            describe as describe_slow, open_files_needed)
from concbench.errors import ExitCode, UsageError
from concbench.harness.backend_service import BackendFailed, BackendProcess
from concbench.harness.event_child import run_event_child, when
from concbench.harness.external_server import CommandServer
from concbench.harness.sampling import ServerSampler
from concbench.clients.native_engine import loadgen_engine
from concbench.harness.server_process import ServerFailed, ServerProcess
from concbench.results import run_file
from concbench.results.case import Case
from concbench.results.format import case_name, load_measurements
from concbench.results.measurement import add_backend_evidence, add_server_evidence, verdict
from concbench.studies import instructions as instructions_mode
from concbench.studies import pipeline, preflight
from concbench.studies.pipeline import rotated
from concbench.studies.plans import RunPlan
from concbench.studies.profiles import Profile
from concbench.studies.repetitions import RepetitionPlan, mark_stability
from concbench.studies.verify import verify_external


def run(plan: RunPlan) -> int:
    """The whole `concbench run`: checks before anything starts, the study through the pipeline; the exit code."""
    cases = plan_cases(list(plan.scenarios), list(plan.runners), plan.profile, dict(plan.extra_params), plan.named)
    check_plan(plan, cases)
    if plan.measure == "instructions":
        prepared = instructions_mode.prepare(plan.requests, list(plan.runners))
        if prepared is None:
            return ExitCode.OK   # valgrind missing or too old: one line said so, the mode is skipped
        settings, runners = prepared
        plan = replace(plan, runners=tuple(runners),      # counts are deterministic: no stop rule
                       profile=replace(plan.profile, max_repetitions=plan.profile.repetitions))
        cases = plan_cases(list(plan.scenarios), runners, plan.profile, dict(plan.extra_params), plan.named)
        return pipeline.run_study(instructions_study(plan, cases, settings))
    if plan.rate_search:     # one slot per case, without a rate: the search chooses the rates (profile.rates[0] first)
        cases = [replace(c, rate=None) for c in plan_cases(list(plan.scenarios), list(plan.runners),
                                                           replace(plan.profile, rates=(None,)),
                                                           dict(plan.extra_params), plan.named)]
    return pipeline.run_study(wall_study(plan, cases))


def check_plan(plan: RunPlan, cases: list[Case]) -> None:
    """Everything that would fail later, refused now (UsageError, nothing started): runner option values, the engine,
    open files, slow clients, wrk."""
    preflight.check_runner_options(plan.options)
    if plan.profile.engine:
        try:
            native_engine.resolve(plan.profile.engine)
        except ValueError as exc:
            raise UsageError(f"--engine {plan.profile.engine}: {exc}") from None
    limit = fairness.raise_open_file_limit()
    most = max((case.connections for case in cases), default=0)
    if most + 64 > limit:
        raise UsageError(f"{most} connections need more open files than the limit ({limit})")
    if not cases:
        raise UsageError("no runner applies to the selected scenarios")
    check_slow_clients(plan.profile, cases, limit)
    if plan.profile.loadgen == "wrk":
        if not wrk.available():
            raise UsageError("--loadgen wrk needs wrk on PATH (Debian: apt-get install wrk)")
        if list(plan.scenarios) != ["http"] or plan.profile.rates != (None,) or plan.rate_search:
            raise UsageError("--loadgen wrk drives the http scenario in closed loop only (--scenarios http)")


def suite_study(plan: RunPlan, cases: list[Case], measure_case, outcome, conclude, metadata: dict) -> pipeline.Study:
    """The run as a pipeline study: the order (with the stop rule), the file, the progress lines."""
    profile, destination = plan.profile, plan.destination
    measurements = list(destination.previous.pairs) if destination.previous else []   # the stop rule reads them
    maximum = profile.repetitions if plan.rate_search else (profile.max_repetitions or profile.repetitions)
    order = RepetitionPlan(cases, profile.repetitions, maximum, profile.stability_budget_s, measurements,
                           lambda some, n: schedule(some, list(plan.runners), n))     # capacity searches: no stop rule
    plan_id = run_file.plan_identity(order.planned, profile, plan.options, plan.server_cpus, plan.loadgen_cpus,
                                     plan.rate_search)
    planned = order.maximum * len(cases) if destination.previous is None else len(order)
    output = pipeline.output_path("run", destination, default_output(list(plan.scenarios)), planned, plan_id)
    fairness.pin_to_cpus(plan.loadgen_cpus)   # the orchestrator's own sampling stays off the server's cores
    print_header(plan, cases, order, output)
    context = pipeline.file_context(profile, plan.runners, plan.scenarios, plan, plan_id, len(order), **metadata)
    writer = run_file.RunFile(output, context, len(order), destination.previous)
    stability = {"unstable": 0}

    def on_complete(measured):
        stability["unstable"] = mark_stability(measured)
        writer.restate_previous(measured)

    def label(rep, case):
        return f"rep {rep + 1}/{max(order.maximum, rep + 1)} {case.label():<22} {case.runner:<20}"

    def search(case, measure_one):
        return search_capacity(case, profile, measure_one)

    return pipeline.Study(
        "run", order, measure_case, lambda rep, case: run_file.slot_of(rep, case_name(case)), label, outcome, writer,
        lambda measured: conclude(plan, writer, order, stability["unstable"]), measurements,
        expand=search if plan.rate_search else None, evidence=evidence_line, on_complete=on_complete, resumable=True)


def wall_study(plan: RunPlan, cases: list[Case]) -> pipeline.Study:
    """Wall-clock measurements: throughput, latency and their evidence, the summary table and the report."""
    def measure_case(case):
        return measure(case, plan.profile, plan.server_cpus, plan.loadgen_cpus, case_options(case, plan.options))
    return suite_study(plan, cases, measure_case, format_outcome, conclude_wall, {})


def instructions_study(plan: RunPlan, cases: list[Case], settings) -> pipeline.Study:
    """Instructions per verified request under callgrind (concbench.studies.instructions) and their table."""
    def measure_case(case):
        return instructions_mode.measure(case, plan.profile, plan.server_cpus, plan.loadgen_cpus,
                                         case_options(case, plan.options), settings)
    return suite_study(plan, cases, measure_case, instructions_mode.format_outcome, conclude_instructions,
                     instructions_mode.context_metadata(settings))


def print_header(plan: RunPlan, cases: list[Case], order, output: Path) -> None:
    profile = plan.profile
    what = (f"{len(order)} capacity searches (up to {SEARCH_MAX_PROBES} probes each, p99 target "
            f"{profile.p99_target_s * 1e3:g} ms)" if plan.rate_search else f"{len(order)} measurements")
    reps_text = (f"{profile.repetitions}-{order.maximum} repetitions (until stable)" if order.maximum > order.minimum
                 else f"{profile.repetitions} repetitions")
    print(f"concbench run: {len(cases)} cases x {reps_text} = {what} "
          f"({profile.name} profile: warm-up {profile.warmup_s:g} s, window {profile.window_s:g} s); "
          f"server on cpu {','.join(map(str, plan.server_cpus))}, load generator on cpu "
          f"{','.join(map(str, plan.loadgen_cpus))}", flush=True)
    pipeline.announce(plan.destination, output, len(order))
    if set(plan.server_cpus) & set(plan.loadgen_cpus):
        print("warning: server and load generator share a cpu; figures mix both", flush=True)


def evidence_line(record: dict) -> str:
    """-v: what makes the figure valid, in one line."""
    return (f"    evidence: {record.get('requests', 0):,} verified replies in {record.get('window_s', 0):.2f} s, "
            f"{record.get('errors', 0)} errors, served {record.get('served_connections', '?')}/"
            f"{record.get('connections', '?')} connections, server cpu {record.get('server_cpu_pct', 0):.0f}%, "
            f"load generator cpu {record.get('loadgen_cpu_pct', 0):.0f}%, server PSS "
            f"{record.get('server_pss_bytes', 0) / (1 << 20):.1f} MiB")


def conclude_wall(plan: RunPlan, writer, order, unstable: int) -> int:
    """The summary table (and the capacity table of an open-loop run), the report, and exit 4 for a runner broken
    in every repetition of a case."""
    output = writer.path
    print(f"\nfinished {writer.count} of {len(order)} measurements; {order.describe()}; {unstable} case(s) "
          f"unstable; results: {output}\n")
    print(summary_table(output))
    records = load_measurements(output)
    if any(r.get("offered_rate") for r in records):
        print("\n" + capacity_table(output))
    destination = plan.destination
    if not destination.no_report:
        report_dir = destination.report_dir or (
            Path(output).parent / "reports" if destination.output or destination.previous else "reports")
        pipeline.print_report_paths(write_report(output, report_dir))
    return ExitCode.OK if plan.rate_search else pipeline.failed_every_repetition("run", records)


def conclude_instructions(plan: RunPlan, writer, order, unstable: int) -> int:
    print(f"\nfinished {writer.count} of {len(order)} measurements; results: {writer.path}\n")
    print(instructions_table(writer.path))
    return ExitCode.OK


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
    name = "-".join(scenarios) if len(scenarios) <= 2 else "suite"
    return Path("results") / f"{name}-{pipeline.stamp()}.json"


def case_options(case: Case, options: dict) -> dict:
    """The runner's options for one measurement: a runner sized to the offered connections is told them."""
    chosen = dict(options.get(case.runner, {}))
    if registry.RUNNERS[case.runner].has("worker_per_connection"):
        chosen.setdefault("connections", str(case.connections))
    return chosen
