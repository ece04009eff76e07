"""Tables of instructions per request (`run --measure instructions` files): one file, or several side by side.

It reads result files only. Per case: the median over the repetitions that passed, their spread (max/min - 1),
and failures as failures. `python -m analysis.instructions A.json [B.json ...]` prints the table.
"""
from __future__ import annotations

import statistics
import sys

from concbench.analysis.cases import group_cases
from concbench.results.format import load_measurements


def case_text(case: tuple) -> str:
    scenario, params, connections, runner = case
    return " ".join([scenario, *(f"{k}={v}" for k, v in params), f"c={connections}"]), runner


def figures(reps: list[dict], key: str = "instructions_per_request") -> list[float]:
    return [float(r[key]) for r in reps if r.get("status") == "ok" and r.get(key)]


def cell(reps: list[dict] | None) -> tuple[str, float | None]:
    """(text, median) of one case in one file."""
    if not reps:
        return "-", None
    values = figures(reps)
    if not values:
        first = next((r.get("first_error", "") for r in reps if r.get("status") != "ok"), "")
        return f"FAILED ({first[:60]})", None
    median = statistics.median(values)
    spread = (max(values) / min(values) - 1) * 100
    return f"{median:,.0f} (n={len(values)}, spread {spread:.2f}%)", median


def side_by_side(paths) -> str:
    """Markdown: one row per case, one column per file, and each file's difference from the first."""
    groups = [group_cases(load_measurements(p)) for p in paths]
    cases = sorted(set().union(*groups))
    names = [str(p) for p in paths]
    head = ["case", "runner", *names, *(f"{i + 1} vs 1" for i in range(1, len(paths)))]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for case in cases:
        texts, medians = zip(*(cell(g.get(case)) for g in groups))
        diffs = [f"{(m / medians[0] - 1) * 100:+.2f}%" if m and medians[0] else "-" for m in medians[1:]]
        lines.append("| " + " | ".join([*case_text(case), *texts, *diffs]) + " |")
    lines.append("")
    lines.append("Instructions per verified request counted by callgrind (median over repetitions that passed; "
                 "spread = max/min - 1).")
    return "\n".join(lines)


def instructions_table(path) -> str:
    return side_by_side([path])


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m analysis.instructions RESULT.json [RESULT.json ...]", file=sys.stderr)
        return 2
    print(side_by_side(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
