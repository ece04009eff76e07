"""`make regress`: the regression check that decides. Instruction counts (callgrind) decide; the quick wall-clock
suite is compared too, and its inconclusive rows fail the check unless allowed (ALLOW_INCONCLUSIVE=1).

It owns the sequence (run, compare, run, compare) and the decision; measuring is `concbench run`'s, judging is
`concbench compare`'s. Exit: 0 pass, 1 regression or inconclusive (not allowed), 3 bad input (e.g. no baseline).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from concbench.errors import ExitCode
from concbench.harness import lifecycle
from concbench.studies.instructions import Unavailable, check_valgrind
from concbench.studies.plans import RegressPlan

EXIT_PASS, EXIT_FAIL, EXIT_BAD_INPUT = ExitCode.OK, ExitCode.REGRESSION, ExitCode.BAD_INPUT
# What the instruction baseline and head are measured with (make baseline-instructions runs the same):
# every default runner that can be measured, echo and http, one connection (counts stable to well under 1%).
INSTRUCTION_RUN = ["--measure", "instructions", "--scenarios", "echo", "http", "--connections", "1",
                   "--repetitions", "2", "--requests", "500"]
WALL_RUN = ["--quick"]


def concbench(*args: str) -> int:
    """`concbench ARGS` in a child (tracked: a stop signal stops it, and it keeps its own results first); its code."""
    print("$ concbench " + " ".join(args), flush=True)
    child = lifecycle.spawn([sys.executable, "-m", "concbench", *args], owns_group=False, stdin=subprocess.DEVNULL)
    code = child.wait()
    lifecycle.untrack(child)
    return code


def undecided_rows(report_path: Path) -> list[str]:
    """`case metric: verdict (why)` for every row that is too noisy to decide."""
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):
        return []
    return [f"{row['case']} {row['metric']}: {row['verdict']} ({row.get('note') or 'no note'})"
            for row in report.get("rows", []) if row["verdict"] == "too noisy"]


def decide(part: str, code: int, report_path: Path | None, allow_inconclusive: bool) -> tuple[int, list[str]]:
    """(exit code, lines) for one part's compare exit code: 1 -> fail, 3 -> bad input, 2 -> fail unless allowed."""
    if code == 0:
        return EXIT_PASS, [f"{part}: pass"]
    if code == 1:
        return EXIT_FAIL, [f"{part}: REGRESSION (see the table above)"]
    if code == 2:
        rows = undecided_rows(report_path) if report_path else []
        lines = [f"{part}: inconclusive, {len(rows)} rows too noisy to decide:"] + [f"  {row}" for row in rows]
        if allow_inconclusive:
            return EXIT_PASS, lines + [f"{part}: inconclusive allowed (ALLOW_INCONCLUSIVE=1): not a failure"]
        return EXIT_FAIL, lines + [f"{part}: inconclusive fails the check (set ALLOW_INCONCLUSIVE=1 to allow it)"]
    return EXIT_BAD_INPUT, [f"{part}: could not run or compare (exit {code})"]


def run_regress(plan: RegressPlan) -> int:
    """The instruction counts (deciding) and the quick wall-clock suite, each run and compared; the exit code."""
    out = Path(plan.output_dir)
    thresholds = [part for t in plan.thresholds for part in ("--threshold", t)]
    outcomes: list[tuple[int, list[str]]] = []

    try:
        check_valgrind(os.environ.get("CONCBENCH_VALGRIND", "valgrind"),
                       os.environ.get("CONCBENCH_CALLGRIND_CONTROL", "callgrind_control"))
        valgrind_problem = None
    except Unavailable as exc:
        valgrind_problem = str(exc)
    if valgrind_problem:
        outcomes.append((EXIT_PASS, [f"instructions: skipped: {valgrind_problem}; wall clock alone decides"]))
    elif not Path(plan.baseline_instructions).exists():
        outcomes.append((EXIT_BAD_INPUT, [f"instructions: no baseline {plan.baseline_instructions}: run "
                                          f"`make baseline-instructions` on the reference revision (same machine "
                                          f"and Python: counts depend on the interpreter's build)"]))
    else:
        head = out / "regress-head-instructions.json"
        code = concbench("run", *INSTRUCTION_RUN, "-o", str(head))
        report = out / "regress-compare-instructions.json"
        if code == 0:
            code = concbench("compare", plan.baseline_instructions, str(head), "--json", str(report), *thresholds)
        else:
            code = EXIT_BAD_INPUT
        outcomes.append(decide("instructions (decides)", code, report, plan.allow_inconclusive))

    if not plan.skip_wall:
        head = out / "regress-head.json"
        report = out / "regress-compare.json"
        code = concbench("run", *WALL_RUN, "-o", str(head))
        code = (concbench("compare", plan.baseline, str(head), "--json", str(report), *thresholds) if code == 0
                else EXIT_BAD_INPUT)
        outcomes.append(decide("wall clock", code, report, plan.allow_inconclusive))

    print("\nmake regress:")
    for _, lines in outcomes:
        for line in lines:
            print(f"  {line}")
    final = max((code for code, _ in outcomes), default=EXIT_PASS,
                key=lambda c: {EXIT_PASS: 0, EXIT_FAIL: 2, EXIT_BAD_INPUT: 1}[c])
    print(f"make regress: {'pass' if final == EXIT_PASS else 'FAIL'} (exit {final})")
    return final
