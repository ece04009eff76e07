"""Each result kind's table and report (concbench.results.kinds names the kinds): `show`, `report` and the end of
a study dispatch through VIEWS, never on strings of a file's records. Reads result files only.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from concbench.results.format import NotAResult, load_measurements
from concbench.results.kinds import KINDS, ResultKind
from concbench.results.summary_file import kind_of_file

from .backpressure import backpressure_table, write_backpressure_report
from .instructions import instructions_table
from .memory import memory_table, write_memory_report
from .run_report import write_run_report
from .summaries import ceiling_table, clients_table
from .table import summary_table


@dataclass(frozen=True)
class View:
    table: Callable[[object], str]                      # path -> the table `show` prints
    report: Callable[[Path, Path], list[Path]] | None   # (path, folder) -> files written, index.html first
    no_report: str = ""                                 # why a kind without a report has none


VIEWS: dict[str, View] = {
    "run": View(summary_table, write_run_report),
    "instructions": View(instructions_table, None, "instruction counts (run --measure instructions): the report "
                                                   "charts wall-clock figures"),
    "memory": View(memory_table, write_memory_report),
    "backpressure": View(backpressure_table, write_backpressure_report),
    "ceiling": View(ceiling_table, None, "a summary of the load generator's ceiling (concbench ceiling): no charts"),
    "clients": View(clients_table, None, "a summary of several clients against the same servers (concbench "
                                         "clients): no charts"),
}
assert set(VIEWS) == set(KINDS), "every result kind needs a view"


def run_state_notes(path) -> str:
    """For an unfinished file of a resumable study (run, memory, backpressure): that it is not complete, and how to
    finish it with the command that wrote it ('' when complete)."""
    records = load_measurements(path)
    states = {r.get("run_state", "complete") for r in records if "plan_id" in r}
    states.discard("complete")
    command = (records[0].get("command") or "concbench run").split()[1:2] or ["run"] if records else ["run"]
    return "".join(f"\nthis {command[0]} is not complete ({state}); concbench {command[0]} --resume {path} measures "
                   f"the rest" for state in sorted(states))


def show_text(path) -> str:
    """What `concbench show FILE` prints: the table of the file's kind (NotAResult for anything else)."""
    kind = kind_of_file(path)
    text = VIEWS[kind.name].table(path)
    notes = run_state_notes(path) if kind.layout != "summary" else ""
    return f"{text}\n{notes}" if notes else text


def view_of(path) -> tuple[ResultKind, View]:
    kind = kind_of_file(path)
    return kind, VIEWS[kind.name]


def refuse_report(path, kind: ResultKind, view: View) -> NotAResult:
    return NotAResult(f"{path}: {view.no_report}; the table is `concbench show {path}`")
