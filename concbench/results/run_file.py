"""The result file of a `run` while it is measured: rewritten atomically after every measurement and marked with
its state, so an interrupt, a crash or a kill keeps every finished measurement; and read back for `run --resume`.

It owns the state marks (run_state, plan_id, planned_measurements, run_args, a record's slot) and the plan's
identity; concbench.results.format owns the format, concbench.studies.pipeline the measuring.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import pyperf

from concbench.errors import UsageError
from concbench.results.case import Case

STATE_KEY = "run_state"
COMPLETE = "complete"
STABILITY_KEYS = ("case_unstable", "case_interval_half_width", "case_stability_hint")


def slot_of(rep: int, name: str) -> str:
    """A measurement's place in the plan: its repetition and case (a capacity search's case, without a rate)."""
    return f"{rep}:{name}"


def plan_identity(order, profile, options: dict, server_cpus, loadgen_cpus, rate_search: bool) -> str:
    """A short hash of everything that decides what is measured, in which order, and how: two runs with the
    same identity measure the same slots the same way."""
    from concbench.results.format import case_name
    plan = {"slots": [[rep, case_name(case)] for rep, case in order],
            "profile": asdict(profile), "options": options, "rate_search": rate_search,
            "server_cpus": list(server_cpus), "loadgen_cpus": list(loadgen_cpus)}
    return hashlib.sha256(json.dumps(plan, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Previous:
    """What an earlier, unfinished run of the same file measured."""
    path: str
    plan_id: str
    run_args: list
    state: str
    runs: dict                      # benchmark name -> [pyperf.Run], kept as written
    done: set = field(default_factory=set)       # slots measured (passed or failed)
    failed: int = 0
    pairs: list = field(default_factory=list)    # (Case, record) for the stop rule (repetitions until stable)


def read_previous(path) -> Previous:
    """The file to resume, strictly read; UsageError (one line) if it cannot be resumed."""
    from concbench.results.format import NotAResult, load_measurements
    try:
        records = load_measurements(path)
    except NotAResult as exc:
        raise UsageError(f"cannot resume: {exc}") from None
    first = records[0]
    if "plan_id" not in first or "run_args" not in first or any("slot" not in r for r in records):
        raise UsageError(f"cannot resume {path}: it carries no plan (not written by `concbench run` of this "
                         f"version, or merged from several runs)")
    if len({r["plan_id"] for r in records}) > 1:
        raise UsageError(f"cannot resume {path}: it mixes measurements of different plans")
    try:
        run_args = json.loads(first["run_args"])
    except ValueError:
        raise UsageError(f"cannot resume {path}: its run_args are not readable") from None
    suite = pyperf.BenchmarkSuite.load(str(path))
    runs = {bench.get_name(): list(bench.get_runs()) for bench in suite.get_benchmarks()}
    return Previous(str(path), first["plan_id"], run_args, first.get(STATE_KEY, COMPLETE), runs,
                    {str(r["slot"]) for r in records}, sum(r["status"] != "ok" for r in records),
                    [(case_of(r), r) for r in records])


def case_of(record: dict) -> Case:
    """The Case a measurement record was measured for (from its identity metadata)."""
    params = tuple(sorted((k[len("param_"):], v) for k, v in record.items() if k.startswith("param_")))
    rate = record.get("offered_rate")
    return Case(record["scenario"], params, int(record.get("offered_connections", 0)), record["runner"],
                float(rate) if rate else None, record.get("slow_clients"))


def resume_argv(given: list[str], previous: Previous) -> list[str]:
    """The `run` arguments to plan with: the file's own, unless the user gave plan options besides --resume
    (then theirs, and the plan identity decides). Output options always come from this invocation."""
    own = strip_output_options(given)
    return own if own else strip_output_options(previous.run_args)


OUTPUT_FLAGS = {"--resume": 1, "-o": 1, "--output": 1, "--force": 0, "--no-report": 0, "--report-dir": 1, "--no-chart": 0}


def strip_output_options(argv: list[str]) -> list[str]:
    """argv (after the `run` word, which is dropped) without the options that only say where results go."""
    kept, skip = [], 0
    for arg in argv[1:] if argv[:1] == ["run"] else argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in OUTPUT_FLAGS:
            skip = OUTPUT_FLAGS[name] if "=" not in arg else 0
            continue
        kept.append(arg)
    return kept


class RunFile:
    """The result file of one run: add() after every measurement rewrites it (atomically) as `running: k of n`;
    finish(state) writes the final mark. Runs from a resumed file are kept as they were, with the new mark.
    runs(context, measurements) -> the pyperf runs of the measurements (format.suite_runs: a `run`'s)."""

    def __init__(self, path, context, planned: int, previous: Previous | None = None, runs=None):
        self.path = path
        self.runs_of = runs
        self.context = context
        self.planned = planned
        self.previous = previous
        self.done: set = set(previous.done) if previous else set()
        self.measurements: list = []
        self.restated: dict = {}         # slot -> metadata to add to the earlier runs of the file (stability)

    @property
    def count(self) -> int:
        return len(self.done)

    def add(self, slot: int, measurements) -> None:
        """measurements: [(Case, record)] of one slot (one measurement, or a capacity search's probes)."""
        self.measurements.extend(measurements)
        self.done.add(slot)
        self.write(f"running: {self.count} of {self.planned} measured")

    def finish(self, state: str) -> None:
        self.write(state)

    def restate_previous(self, measurements) -> None:
        """After mark_stability over every measurement: the earlier runs' records get their case's marks too."""
        from concbench.results.format import record_metadata
        if not self.previous:
            return
        ids = {id(record) for _, record in self.previous.pairs}
        for _, record in measurements:
            if id(record) in ids and "slot" in record:
                self.restated[str(record["slot"])] = record_metadata(
                    {k: record[k] for k in STABILITY_KEYS if k in record})

    def write(self, state: str) -> None:
        from concbench.results.format import RunContext, dump_suite_atomically, suite_runs
        runs: dict = {}
        if self.previous:
            for name, old in self.previous.runs.items():
                runs[name] = [pyperf.Run(run.values, metadata={
                    **run.get_metadata(), STATE_KEY: state,
                    **(self.restated.get(str(run.get_metadata().get("slot")), {})
                       if run.get_metadata().get("metric") == "measurement" else {})}, collect_metadata=False)
                    for run in old]
        context = RunContext({**self.context.metadata, STATE_KEY: state})
        for name, new in (self.runs_of or suite_runs)(context, self.measurements).items():
            runs.setdefault(name, []).extend(new)
        if runs:                     # nothing measured yet: no file (a pyperf suite cannot be empty)
            dump_suite_atomically(self.path, runs)


# Error kinds that mean the runner did not work (could not be measured, died, or answered wrongly), as opposed to a
# measured limit (timeouts, starved connections, refused connects under load are results, not breakage).
BROKEN_KINDS = ("harness", "server_died", "mismatch", "backend")


def broken(record: dict) -> bool:
    """A failed record whose errors say the runner did not work (error_kinds is stored as 'kind=n,kind=n')."""
    if record["status"] == "ok":
        return False
    kinds = record.get("error_kinds", "")
    if isinstance(kinds, str):
        kinds = dict(part.split("=", 1) for part in kinds.split(",") if "=" in part)
    return any(kind in kinds for kind in BROKEN_KINDS)


def marked(context, state: str):
    """The RunContext with a state mark (for the other studies' files, rewritten after every measurement)."""
    from concbench.results.format import RunContext
    return RunContext({**context.metadata, STATE_KEY: state})


def failed_every_repetition(records: list[dict]) -> list[str]:
    """The cases (benchmark names without /measurement) whose every measurement was broken, with the first error."""
    by_case: dict[str, list[dict]] = {}
    for record in records:
        by_case.setdefault(record.get("name", "").removesuffix("/measurement"), []).append(record)
    return sorted(f"{name}: {group[0].get('first_error', 'failed')}" for name, group in by_case.items()
                  if all(broken(r) for r in group))
