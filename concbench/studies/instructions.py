"""`concbench run --measure instructions`: instructions executed per verified request, counted by callgrind.

It owns finding valgrind, starting a fresh server under callgrind with instrumentation off, switching it on
(every process of the server, by pid) around an exact number of verified requests, and reading the counts.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from concbench import registry
from concbench.clients.counted_load import CountedClient
from concbench.errors import UsageError
from concbench.harness.backend_service import BackendFailed, BackendProcess
from concbench.harness.sampling import process_tree
from concbench.harness.serve import COLLECT_ACK_ENV, COLLECT_SIGNAL
from concbench.harness.server_process import ServerFailed, ServerProcess
from concbench.results.measurement import add_backend_evidence
from concbench.studies.plans import INSTRUCTIONS_REQUESTS

MIN_VALGRIND = (3, 10)           # callgrind_control through vgdb, --instr-atstart
METRIC = "instructions-per-request"
DEFAULT_REQUESTS = INSTRUCTIONS_REQUESTS      # the levels when --connections is not given: plans.INSTRUCTIONS_LEVELS
DEFAULT_WARMUP_REQUESTS = 200
READY_TIMEOUT_S = 120.0          # Python start-up and imports run ~50x slower under valgrind
CONTROL_TIMEOUT_S = 60.0
# Whatever makes the server's instruction count repeatable: no hash randomisation, no bytecode writing.
STABLE_ENV = {"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONMALLOC": "pymalloc"}
# The server's environment under callgrind is only these of the caller's (and STABLE_ENV): the number of variables
# changes the interpreter's start-up allocations and so the count, by as much as the slowdowns compare must catch
# (three more variables moved asyncio's cpu request by 1.2%, and its extra_work=110 cost from 126k to 30k
# instructions: docs/instructions.md), so a count must not depend on who runs it (a terminal, CI, pytest-xdist).
KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH")


def server_environment() -> dict:
    """The server's whole environment under callgrind (KEPT_ENV of the caller's, valgrind's own, STABLE_ENV)."""
    kept = {k: v for k, v in os.environ.items() if k in KEPT_ENV or k.startswith("VALGRIND")}
    return {**kept, **STABLE_ENV}
# Runners measured: all the suite's Python servers. Threads: valgrind runs them one at a time and counts them all.
# Forked workers (processes*): a fork stays under valgrind, and --trace-children=yes gives each child its own vgdb
# channel (without it valgrind 3.19 answers `vgdb: no FIFO found matching pid`), so every process of the server
# is switched on by pid and the dumps are summed.


class Unavailable(Exception):
    """valgrind or callgrind_control is missing or too old; the message is one line for the user."""


@dataclass(frozen=True)
class Settings:
    requests: int = DEFAULT_REQUESTS
    warmup_requests: int = DEFAULT_WARMUP_REQUESTS
    valgrind: str = "valgrind"
    control: str = "callgrind_control"
    version: str = ""


def parse_version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"valgrind-(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part or 0) for part in match.groups()) if match else None


def check_valgrind(valgrind: str = "valgrind", control: str = "callgrind_control") -> Settings:
    """Settings with the version found; Unavailable (one line) if valgrind or callgrind_control is missing or old."""
    path = shutil.which(valgrind)
    if not path:
        raise Unavailable(f"valgrind not found ({valgrind!r} is not on PATH); install valgrind >= "
                          f"{'.'.join(map(str, MIN_VALGRIND))} (Debian/Ubuntu: apt-get install valgrind)")
    try:
        text = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise Unavailable(f"{path} --version failed: {exc}") from None
    version = parse_version(text)
    if version is None:
        raise Unavailable(f"{path} --version printed {text[:60]!r}, not a valgrind version")
    if version < MIN_VALGRIND:
        raise Unavailable(f"{text} is too old: --measure instructions needs valgrind >= "
                          f"{'.'.join(map(str, MIN_VALGRIND))} (callgrind_control through vgdb)")
    if not shutil.which(control):
        raise Unavailable(f"{control} not found on PATH (it comes with valgrind; it needs perl)")
    return Settings(valgrind=path, control=shutil.which(control), version=text)


def supported(runner: str) -> str | None:
    """None if the runner can be measured in instructions, else why not."""
    return "the C yardstick: not a Python server under test" if registry.RUNNERS[runner].has("reference") else None


def callgrind_command(settings: Settings, out_dir: Path) -> list[str]:
    return [settings.valgrind, "--tool=callgrind", "--instr-atstart=no", "--dump-instr=no", "--trace-children=yes",
            f"--callgrind-out-file={out_dir}/callgrind.out.%p"]


def control(settings: Settings, pid: int, *args: str) -> str | None:
    """Run callgrind_control on one pid; None if it worked, else what went wrong."""
    try:
        done = subprocess.run([settings.control, *args, str(pid)], capture_output=True, text=True,
                              timeout=CONTROL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"callgrind_control {' '.join(args)} {pid}: no answer within {CONTROL_TIMEOUT_S:g} s"
    if done.returncode != 0 or "OK" not in done.stdout:
        said = (done.stdout + done.stderr).strip().splitlines()
        return f"callgrind_control {' '.join(args)} {pid} failed: {said[-1] if said else done.returncode}"
    return None


def read_totals(path: Path) -> int | None:
    """The instruction total of one callgrind dump (its `totals:` or else `summary:` line)."""
    summary = None
    try:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                return int(line.split()[1])
            if line.startswith("summary:"):
                summary = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return summary


SETTLE_TIMEOUT_S = 5.0
SETTLE_POLL_S = 0.0005


def thread_states(pid: int) -> list[str]:
    """The scheduler state (R, S, D...) of every thread of a process, from /proc."""
    states = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        except (OSError, IndexError):
            continue
    return states


class Settler:
    """Between rounds of requests: wait until every thread of the server sleeps (seen twice in a row), i.e. it has
    finished the round and waits for input, so every round starts from the same state and the count does not depend
    on whether the next request raced the server's last read (frameworks that read until EAGAIN)."""

    def __init__(self, pid: int):
        self.pids, self.unsettled = [pid], 0       # drive() sets every process of the server once it is known

    def states(self) -> list[str]:
        return [state for pid in self.pids for state in thread_states(pid)]

    def __call__(self) -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        quiet = 0
        while time.monotonic() < deadline:
            states = self.states()
            quiet = quiet + 1 if states and all(state == "S" for state in states) else 0
            if quiet >= 2:
                return
            time.sleep(SETTLE_POLL_S)
        self.unsettled += 1              # evidence in the record; the round still counts


class Pause:
    """hold(): SIGSTOP the server and wait until it is stopped; release(): SIGCONT. Used at more than one connection,
    so that every round's requests are all waiting when the server looks (one batch of N, not a timing-dependent
    mix); the server's whole process group (a process that is not stopped within the timeout counts as unsettled)."""

    def __init__(self, server: ServerProcess, settler: Settler):
        self.server, self.settler = server, settler

    def hold(self) -> None:
        self.server.send_signal(signal.SIGSTOP)    # the server's own process group (its workers included)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            states = self.settler.states()
            if states and all(state in ("T", "t") for state in states):
                return
            time.sleep(SETTLE_POLL_S)
        self.settler.unsettled += 1

    def release(self) -> None:
        time.sleep(0.001)        # the loopback has queued the sends by now; let every one land before waking
        self.server.send_signal(signal.SIGCONT)


def failed(case, reason: str, **extra) -> dict:
    return {"status": "failed", "first_error": reason, "errors": 1, "error_kinds": {"harness": 1},
            "requests": 0, "connections": case.connections, "measure": "instructions", **extra}


def measure(case, profile, server_cpus, loadgen_cpus, options: dict, settings: Settings) -> dict:
    """One instructions measurement (same signature as orchestrate.measure, plus settings): a fresh server under
    callgrind, warm-up, instrumentation on, exactly settings.requests verified requests, off, dump, read."""
    why = supported(case.runner)
    if why:
        return failed(case, f"not measured in instructions: {why}")
    backend = None
    if registry.SCENARIOS[case.scenario].needs_backend:
        try:
            backend = BackendProcess(loadgen_cpus).start()
        except BackendFailed as exc:
            return failed(case, f"backend: {exc}")
    try:
        record = measure_server(case, profile, server_cpus, options, settings, backend.address if backend else None)
    finally:
        calls = backend.stop() if backend else None
    if backend is not None:
        record = add_backend_evidence(record, calls)
    return record


def measure_server(case, profile, server_cpus, options: dict, settings: Settings, backend) -> dict:
    scenario = registry.SCENARIOS[case.scenario]
    workload = scenario.client_workload(dict(case.params))
    with tempfile.TemporaryDirectory(prefix="concbench-callgrind-") as tmp:
        out_dir = Path(tmp)
        server = ServerProcess(case.runner, case.scenario, dict(case.params), server_cpus, options,
                               env=STABLE_ENV, backend=backend)
        server.command = [*callgrind_command(settings, out_dir), *server.command]
        ack = out_dir / "collected"
        server.env = {**server_environment(), COLLECT_ACK_ENV: str(ack)}
        try:
            server.start(ready_timeout_s=READY_TIMEOUT_S)
        except ServerFailed as exc:
            return failed(case, f"server under callgrind: {exc}")
        settler = Settler(server.pid)
        pause = Pause(server, settler) if case.connections > 1 else None
        client = CountedClient("127.0.0.1", server.port, workload, case.connections,
                               timeout_s=max(profile.timeout_s * 30, 60.0), settle=settler,
                               hold=pause.hold if pause else None, release=pause.release if pause else None)
        try:
            record = drive(case, server, client, settings, ack)
        finally:
            client.close()
            server.stop()                                  # SIGTERM, then SIGCONT: a paused server ends too
        pids = record.pop("_pids", [])
        if record["status"] == "ok":
            record = add_counts(record, out_dir, pids)
    return record


IDLE_MIN_S, IDLE_MAX_S = 1.0, 2.0     # the idle window after the counted one: as long as it, within these bounds


def idle_window(settings: Settings, pids: list[int], switched_on: dict, wall: float) -> tuple[list[str], dict]:
    """After the counted requests, with instrumentation still on: dump each process (its window), wait an idle
    window with no requests, dump again (its idle work), then switch off. Work a server does per second (timers,
    a hub's wake-ups) grows with the wall time, which under valgrind depends on how busy the machine is; the idle
    dump measures that rate so add_counts can take it out. Returns problems and, per pid, (window s, idle s)."""
    problems, dumped = [], {}
    for pid in pids:
        problems += [p for p in [control(settings, pid, "-d")] if p]
        dumped[pid] = time.monotonic()
    time.sleep(min(max(wall, IDLE_MIN_S), IDLE_MAX_S))
    clocks = {}
    for pid in pids:
        problems += [p for p in [control(settings, pid, "-d")] if p]
        clocks[pid] = (dumped[pid] - switched_on[pid], time.monotonic() - dumped[pid])
    problems += [p for pid in pids for p in [control(settings, pid, "-i", "off")] if p]
    return problems, clocks


COLLECT_TIMEOUT_S = 60.0      # a handler runs when its process next runs Python: under valgrind, a while


def collected_pids(ack: Path) -> set[int]:
    try:
        return {int(line) for line in ack.read_text().split()}
    except (OSError, ValueError):
        return set()


def collect_garbage(pids: list[int], ack: Path) -> str | None:
    """Every server process runs a full garbage collection (harness.serve's COLLECT_SIGNAL handler) and says so in
    `ack`; None once all have, else what went wrong. A full collection that falls inside one counted window and not
    in another moves the count by 1-2%; after this every window starts from the same collector state."""
    wanted = set(pids)
    for pid in pids:
        try:
            os.kill(pid, COLLECT_SIGNAL)
        except ProcessLookupError:
            return f"server process {pid} ended before the garbage collection before the window"
    deadline = time.monotonic() + COLLECT_TIMEOUT_S
    while time.monotonic() < deadline:
        if wanted <= collected_pids(ack):
            return None
        time.sleep(0.01)
    missing = sorted(wanted - collected_pids(ack))
    return (f"server process{'es' if len(missing) != 1 else ''} {', '.join(map(str, missing))} did not run the "
            f"garbage collection asked for (SIGUSR2) within {COLLECT_TIMEOUT_S:g} s")


def drive(case, server: ServerProcess, client: CountedClient, settings: Settings, ack: Path) -> dict:
    """Warm-up (not counted), a full garbage collection in every server process, a second warm-up, then every server
    process switched on, the counted requests, off, dumped."""
    if isinstance(client.settle, Settler):          # every process of the server (forked workers too)
        client.settle.pids = [p.pid for p in process_tree(server.pid)]
    try:
        client.open()
    except OSError as exc:
        return failed(case, f"connect: {exc.strerror or exc}")
    warm = client.run(settings.warmup_requests) if settings.warmup_requests else None
    if warm is not None and not warm.complete:
        return failed(case, f"warm-up: {warm.first_error or 'incomplete'}", errors=warm.error_count,
                      error_kinds=warm.errors)
    pids = [p.pid for p in process_tree(server.pid)]
    if isinstance(client.settle, Settler):
        client.settle.pids = pids
    problem = collect_garbage(pids, ack)
    if problem:
        return failed(case, problem)
    # A second warm-up after the collection: the memory it gave back is taken again (allocator arenas) before the
    # window, as in a server that has been running, and the collector's counters reach the same state every time.
    rewarm = client.run(settings.warmup_requests) if settings.warmup_requests else None
    if rewarm is not None and not rewarm.complete:
        return failed(case, f"warm-up after the collection: {rewarm.first_error or 'incomplete'}",
                      errors=rewarm.error_count, error_kinds=rewarm.errors)
    warmed = sum(w.requests for w in (warm, rewarm) if w is not None)
    switched_on = {}
    for pid in pids:
        problem = control(settings, pid, "-i", "on")
        if problem:
            return failed(case, problem)
        switched_on[pid] = time.monotonic()
    started = time.monotonic()
    outcome = client.run(settings.requests)
    wall = time.monotonic() - started
    problems, clocks = idle_window(settings, pids, switched_on, wall)
    alive = server.alive()
    record = {
        "status": "ok", "measure": "instructions", "connections": case.connections,
        "requests": outcome.requests, "requests_planned": outcome.planned,
        "warmup_requests": warmed, "window_s": wall,
        "errors": outcome.error_count, "error_kinds": dict(outcome.errors),
        "verified_replies_total": outcome.requests + warmed,
        "server_processes": len(pids), "valgrind_version": settings.version, "gc_collected_processes": len(pids),
        "connections_opened": outcome.connections_opened, "unsettled_rounds": client.settle.unsettled,
        "_clocks": clocks,
    }
    if outcome.first_error:
        record["first_error"] = outcome.first_error
    if not outcome.complete:
        record.update(status="failed", first_error=record.get("first_error") or
                      f"{outcome.requests} of {outcome.planned} verified replies")
    elif problems:
        record.update(status="failed", errors=1, error_kinds={"harness": 1}, first_error=problems[0])
    elif not alive:
        record.update(status="failed", errors=1, error_kinds={"harness": 1},
                      first_error=f"server died during the run: {server.last_words()}")
    record["_pids"] = pids
    return record


def add_counts(record: dict, out_dir: Path, pids: list[int]) -> dict:
    """Sum the dumps of every instrumented process: the window's count less each process's idle rate (from the
    idle dump) times its window's wall time; instructions per request (and per connection for churn)."""
    record = dict(record)
    clocks = record.pop("_clocks", {})
    counted = 0
    time_driven = idle_rate = 0.0
    for pid in pids:
        window, idle_count = (read_totals(out_dir / f"callgrind.out.{pid}.{n}") for n in (1, 2))
        if window is None or idle_count is None:
            return {**record, "status": "failed", "errors": 1, "error_kinds": {"harness": 1},
                    "first_error": f"no callgrind dump for server process {pid}"}
        window_s, idle_s = clocks[pid]
        counted += window
        idle_rate += idle_count / idle_s
        time_driven += idle_count / idle_s * window_s
    if counted <= 0:
        return {**record, "status": "failed", "errors": 1, "error_kinds": {"harness": 1},
                "first_error": "callgrind counted no instructions (instrumentation never switched on?)"}
    instructions = round(counted - time_driven)
    record["instructions_counted"] = counted
    record["instructions_idle_per_s"] = idle_rate
    record["instructions_time_driven"] = round(time_driven)
    record["instructions"] = instructions
    record["instructions_per_request"] = instructions / record["requests"]
    if record.get("connections_opened"):
        record["instructions_per_connection"] = instructions / record["connections_opened"]
    return record


def format_outcome(record: dict) -> str:
    """One progress line for an instructions measurement."""
    if record["status"] != "ok":
        return f"FAILED: {record.get('first_error', '')}"
    churn = (f"  {record['instructions_per_connection']:,.0f} instr/connection"
             if "instructions_per_connection" in record else "")
    return (f"{record['instructions_per_request']:>12,.0f} instructions/request over {record['requests']} verified "
            f"requests ({record['instructions']:,} in {record['server_processes']} process"
            f"{'es' if record['server_processes'] != 1 else ''}){churn}")


def context_metadata(settings: Settings) -> dict:
    return {"measure": "instructions", "valgrind_version": settings.version,
            "instructions_requests": settings.requests, "instructions_warmup_requests": 2 * settings.warmup_requests,
            "instructions_env": ",".join(f"{k}={v}" for k, v in sorted(STABLE_ENV.items()))}


def prepare(requests: int | None, runners: list[str]) -> tuple[Settings, list[str]] | None:
    """(settings, runners kept) for `run --measure instructions`, or None after one line if valgrind is unusable.
    A runner it cannot measure is one line each and left out; UsageError if none is left."""
    try:
        settings = check_valgrind(os.environ.get("CONCBENCH_VALGRIND", "valgrind"),
                                  os.environ.get("CONCBENCH_CALLGRIND_CONTROL", "callgrind_control"))
    except Unavailable as exc:
        print(f"concbench run --measure instructions: skipped: {exc}", flush=True)
        return None
    settings = replace(settings, requests=requests or DEFAULT_REQUESTS, warmup_requests=DEFAULT_WARMUP_REQUESTS)
    print(f"concbench run --measure instructions: {settings.version}; {settings.warmup_requests} warm-up requests, "
          f"a full garbage collection, {settings.warmup_requests} more, then {settings.requests} verified requests "
          f"counted per measurement", flush=True)
    kept = []
    for runner in runners:
        why = supported(runner)
        if why:
            print(f"concbench run --measure instructions: {runner} not measured: {why}", flush=True)
        else:
            kept.append(runner)
    if not kept:
        raise UsageError("--measure instructions: none of the selected runners can be measured in instructions")
    return settings, kept
