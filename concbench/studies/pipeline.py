"""The one study pipeline: every study (run, memory, backpressure, ceiling, verify, ab, clients) is a plan plus a
measure function plugged in here, and this loop is the only one that measures.

It owns the loop over a study's slots in their rotated order, the progress lines, interrupts
(concbench.harness.lifecycle), the result file rewritten after every measurement, --resume (only the slots the file
lacks, only with the same plan), the exit codes of a study (4, 5, 128 + signal), and then hands the measurements to
the study's conclusion (its table, chart and report). It reads no arguments and measures nothing itself.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from concbench import console
from concbench.clients.native_engine import loadgen_engine
from concbench.errors import BadInput, ExitCode, UsageError
from concbench.harness import lifecycle
from concbench.results import run_file
from concbench.results.format import RunContext, write_json_atomically
from concbench.results.summary_file import write_summary
from concbench.studies import preflight
from concbench.studies.plans import Destination


def plan_identity(slots: list, settings: dict) -> str:
    """A short hash of everything that decides what is measured, in which order, and how: two invocations with the
    same identity measure the same slots the same way (`run` hashes its own, concbench.results.run_file)."""
    plan = {"slots": slots, **settings}
    return hashlib.sha256(json.dumps(plan, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def output_path(command: str, destination: Destination, default: Path, planned: int, plan_id: str | None) -> Path:
    """The result file, checked before anything starts (concbench.studies.preflight): the resumed file (only for the
    same plan), -o (existing only with --force), or the default name made unique."""
    previous = destination.previous
    if previous is not None:
        path = Path(previous.path)
        if previous.plan_id != plan_id:
            raise UsageError(f"cannot resume {path}: it was measured with a different plan; resume it with the options "
                             f"it was run with (concbench {command} {' '.join(previous.run_args)}) or with none")
        preflight.check_output(path, max(planned - len(previous.done), 1), existing_ok=True)
        return path
    if destination.output:
        path = Path(destination.output)
        preflight.check_output(path, planned, force=destination.force)
        return path
    path = preflight.unique_path(default)
    preflight.check_output(path, planned)
    return path


def announce(destination: Destination, output: Path, planned: int) -> None:
    """Where the results go, said before the first measurement (and what a resumed file already holds)."""
    previous = destination.previous
    if previous is not None:
        print(f"resuming {output} ({previous.state}): {len(previous.done)} of {planned} measured, "
              f"{planned - len(previous.done)} to go", flush=True)
    print(f"results: {output} (written after every measurement)", flush=True)


def state_metadata(plan_id: str, planned: int, run_args) -> dict:
    """The marks every run of a resumable file carries (concbench.results.run_file reads them back)."""
    return {"plan_id": plan_id, "planned_measurements": planned, "run_args": json.dumps(list(run_args))}


def file_context(profile, runners, scenarios, plan, plan_id: str, planned: int, **metadata) -> RunContext:
    """What every run of a study's result file carries: the machine, versions and settings (RunContext), the plan's
    marks (for --resume), and the study's own metadata. plan: its cpus, options and destination."""
    destination = plan.destination
    context = RunContext.collect(profile, list(runners), list(scenarios), plan.server_cpus, plan.loadgen_cpus,
                                 plan.options, ["concbench", *destination.command_line],
                                 loadgen_engine(profile.engine))
    context.metadata.update(state_metadata(plan_id, planned, destination.run_args), **metadata)
    return context


class NoFile:
    """The sink of a study that keeps no file (verify): it only counts."""
    path = None

    def __init__(self):
        self.done: set = set()

    @property
    def count(self) -> int:
        return len(self.done)

    def add(self, slot, measurements) -> None:
        self.done.add(slot)

    def finish(self, state: str) -> None:
        pass


class JsonFile(NoFile):
    """A study's JSON summary (ceiling, clients), rewritten atomically after every measurement with its state."""

    def __init__(self, path: Path, summarize: Callable[[list], dict], kind=None):
        super().__init__()
        self.path, self.summarize, self.kind, self.measurements = path, summarize, kind, []

    def add(self, slot, measurements) -> None:
        super().add(slot, measurements)
        self.measurements.extend(measurements)
        self.finish(f"running: {self.count} measured")

    def finish(self, state: str, concluded: bool = False) -> None:
        """Rewrite the summary marked with `state`; `concluded`: the study's conclusion is in it (its ratios, the
        figures that identify a finished summary of its kind), so the kind's full check applies."""
        if self.measurements:
            summary = {**self.summarize(self.measurements), run_file.STATE_KEY: state}
            if self.kind is None:           # a summary of no registered kind (tests' fake studies)
                write_json_atomically(self.path, summary)
            else:
                write_summary(self.path, self.kind, summary, partial=not concluded)


@dataclass
class Study:
    """A study ready to measure: its slots and how to measure, describe, keep and conclude them.

    order: (repetition, subject) in the rotated order, with len(); it may grow while measured (run's stop rule
    reads `measurements`). measure(subject) -> one record. slot(rep, subject): the slot's key in the file.
    label(rep, subject) and outcome(record): the progress line. sink: where the records go after each measurement
    (a concbench.results.run_file.RunFile, a JsonFile, NoFile). conclude(measurements) -> the exit code, after the
    last slot (tables, charts, report). expand(subject, measure_one): a slot measured as several measurements (a
    capacity search's probes); by default one."""
    command: str
    order: Any
    measure: Callable[[Any], dict]
    slot: Callable[[int, Any], str]
    label: Callable[[int, Any], str]
    outcome: Callable[[dict], str]
    sink: Any
    conclude: Callable[[list], int]
    measurements: list = field(default_factory=list)
    expand: Callable[[Any, Callable[[Any], dict]], list] | None = None
    evidence: Callable[[dict], str] | None = None      # -v: a record's validity evidence
    on_complete: Callable[[list], None] | None = None  # before the final write (run: the stability marks)
    resumable: bool = False                             # an interrupt prints `concbench COMMAND --resume FILE`
    unit: str = "measurements"
    stop_grace_s: float = lifecycle.GRACE_S             # children get this long after SIGTERM on an interrupt


def format_progress(done: int, total: int, started: float, measured: int, todo: int) -> str:
    """'[  3/12 00:41 left 02:03]': done = slots of the plan measured; measured/todo: of those this invocation
    measures (for the time left)."""
    elapsed = time.monotonic() - started
    eta = elapsed / measured * (todo - measured) if measured else float("nan")
    eta_text = f"{int(eta) // 60:02d}:{int(eta) % 60:02d}" if measured else "--:--"
    return f"[{done + 1:>3}/{total} {int(elapsed) // 60:02d}:{int(elapsed) % 60:02d} left {eta_text}]"


def run_study(study: Study) -> int:
    """Measure every slot the file lacks, then conclude; the exit code."""
    code = measure_slots(study)
    if code:
        return code
    with lifecycle.interruptible():
        try:
            return study.conclude(study.measurements)
        except lifecycle.Interrupted as exc:    # the measurements are all in the file; only the tables are left
            lifecycle.stop_all(study.stop_grace_s)
            where = f"; every measurement is in {study.sink.path}" if study.sink.path else ""
            print(f"\nconcbench {study.command}: {exc.name} received after the last measurement{where}",
                  file=sys.stderr, flush=True)
            return exc.exit_code


def measure_slots(study: Study) -> int:
    """Every slot of the plan not measured yet, the sink written after each, then marked complete; 0, or the exit
    code of an interrupt (128 + signal) or of a failed write (5). The children are stopped whatever happens."""
    sink, order, name = study.sink, study.order, f"concbench {study.command}"
    with lifecycle.interruptible():
        try:
            measure_missing(study)
            if study.on_complete:
                study.on_complete(study.measurements)
            sink.finish(run_file.COMPLETE)
        except lifecycle.Interrupted as exc:
            lifecycle.stop_all(study.stop_grace_s)
            print(f"\n{name}: {exc.name} received; the measurement under way was abandoned and every child process "
                  f"stopped", file=sys.stderr, flush=True)
            keep_interrupted(study, f"interrupted after {sink.count} of {len(order)} ({exc.name})")
            return exc.exit_code
        except OSError as exc:
            lifecycle.stop_all(study.stop_grace_s)
            print(f"\n{name}: cannot write {sink.path}: {exc.strerror or exc}; stopped after {sink.count} of "
                  f"{len(order)} {study.unit} (the last written copy keeps what was written)", file=sys.stderr,
                  flush=True)
            return ExitCode.WRITE_FAILED
        except (UsageError, BadInput):  # a study that cannot go on (ab: a revision's run failed): one line, exit 2 or 3
            lifecycle.stop_all(study.stop_grace_s)
            raise
        except Exception as exc:       # a harness bug: keep what was measured, say where, then the traceback
            lifecycle.stop_all(study.stop_grace_s)
            keep_crashed(study, exc)
            raise
    return ExitCode.OK


def measure_missing(study: Study) -> None:
    """The loop: each slot of the order (which may grow while the stop rule asks for more) the sink lacks, measured
    with its progress line, its records kept in the study and added to the sink."""
    sink, order = study.sink, study.order
    started, already, measured = time.monotonic(), sink.count, 0
    for rep, subject in order:
        slot = study.slot(rep, subject)
        if slot in sink.done:
            continue

        def measure_one(probe, rep=rep, slot=slot) -> dict:
            console.progress(format_progress(sink.count, len(order), started, measured, len(order) - already),
                             study.label(rep, probe), end=" ", flush=True)
            began = time.monotonic()
            record = study.measure(probe)
            record.update(repetition=rep, slot=slot, measured_wall_s=time.monotonic() - began,
                          measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            console.progress(study.outcome(record), flush=True)
            if study.evidence:
                console.detail(study.evidence(record), flush=True)
            return record

        new = study.expand(subject, measure_one) if study.expand else [(subject, measure_one(subject))]
        study.measurements.extend(new)         # before the file: the stop rule reads them for the next round
        sink.add(slot, new)
        measured += 1


def keep_crashed(study: Study, exc: Exception) -> None:
    """A bug: what was measured stays in the file, marked crashed, and where it is goes to stderr (the traceback
    follows)."""
    sink, name = study.sink, f"concbench {study.command}"
    if sink.count and sink.path:
        sink.finish(f"crashed after {sink.count} of {len(study.order)} ({exc.__class__.__name__})")
        resume = f" ({name} --resume {sink.path} measures the rest)" if study.resumable else ""
        print(f"\n{name}: crashed after {sink.count} of {len(study.order)} {study.unit}; results: {sink.path}"
              f"{resume}", file=sys.stderr)


def keep_interrupted(study: Study, state: str) -> None:
    """After an interrupt: the file marked with its state, and where it is (and how to continue it) on stderr."""
    sink, name = study.sink, f"concbench {study.command}"
    try:
        sink.finish(state)
    except OSError as exc:
        print(f"{name}: cannot write {sink.path}: {exc.strerror or exc}; the last written copy is there",
              file=sys.stderr)
    if sink.path is None:
        return
    if sink.count:
        resume = f"\n  continue with: {name} --resume {sink.path}" if study.resumable else ""
        print(f"{name}: interrupted after {sink.count} of {len(study.order)} {study.unit}; results: {sink.path}"
              f"{resume}", file=sys.stderr, flush=True)
    else:
        print(f"{name}: interrupted before the first measurement finished; no result file written", file=sys.stderr,
              flush=True)


def failed_every_repetition(command: str, records: list[dict]) -> int:
    """Exit 4, naming them on stderr, when a runner was broken in every repetition of a case; else 0."""
    failed = run_file.failed_every_repetition(records)
    if not failed:
        return ExitCode.OK
    print(f"\nconcbench {command}: the runner failed every repetition of {len(failed)} case(s) "
          f"(exit {int(ExitCode.CASE_FAILED)}):", file=sys.stderr)
    for name in failed:
        print(f"  {name}", file=sys.stderr)
    return ExitCode.CASE_FAILED


def rotated(items: list, by: int) -> list:
    """items rotated left by `by`: each repetition of a study starts with the next one, so none always leads."""
    by %= len(items) if items else 1
    return items[by:] + items[:by]


def print_report_paths(paths) -> None:
    print("\nreport:")
    for path in paths:
        print(f"  {path}")
