"""Two result files compared and the verdict reported (the work of `concbench compare`, and the end of `ab`): the
markdown table on the terminal, --json and --markdown files, the exit code (0 pass, 1 regression, 2 inconclusive).

It owns reading both files for a comparison (bad input is BadInput: exit 3) and writing what the comparison says;
the statistics and verdicts are concbench.analysis.compare's.
"""
from __future__ import annotations

import json
import sys

from concbench.analysis.compare import compare_records, markdown, parse_thresholds
from concbench.errors import BadInput
from concbench.results.kinds import kind_of_records
from concbench.results.format import NotAResult, load_measurements, write_json_atomically, write_text_atomically
from concbench.studies.plans import ComparePlan


def compare_files(base_path, head_path, plan: ComparePlan) -> int:
    """Compare two result files, print the markdown and summary, write --json/--markdown; the exit code."""
    metrics = parse_thresholds(list(plan.thresholds))
    try:
        base, head = load_measurements(base_path), load_measurements(head_path)
    except NotAResult as exc:
        raise BadInput(str(exc)) from None
    for path, records in ((base_path, base), (head_path, head)):
        kind = kind_of_records(records)     # memory, backpressure: figures of their own, not compared case by case
        if kind is None or not kind.comparable:
            raise BadInput(f"{path}: a {kind.name if kind else 'newer'} result; compare reads `concbench run` results "
                           f"(read it with `concbench show`)")
    report = compare_records(base, head, metrics, plan.normalize)
    report.update(base=str(base_path), head=str(head_path))
    text = markdown(report)
    print(text, end="", flush=True, file=sys.stderr if plan.json == "-" else sys.stdout)
    try:
        if plan.json == "-":
            print(json.dumps(report, indent=2), flush=True)
        elif plan.json:
            write_json_atomically(plan.json, report)
        if plan.markdown and plan.markdown != "-":
            write_text_atomically(plan.markdown, text)
    except OSError as exc:
        raise BadInput(f"cannot write {exc.filename}: {exc.strerror}") from None
    return report["exit_code"]
