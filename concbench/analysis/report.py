"""`concbench report RESULT...`: charts (PNG), summary.md and a self-contained index.html per result file, written
into reports/<result name>/ by the report of the file's kind (concbench.analysis.views). Finished files only.
"""
from __future__ import annotations

from pathlib import Path

from .views import refuse_report, view_of


def write_report(result_path, out_root="reports") -> list[Path]:
    """Write the report for one result file; returns the paths written (index.html first). NotAResult (one line)
    for a file that is not a result, or of a kind without charts (instructions, ceiling, clients)."""
    result_path = Path(result_path)
    kind, view = view_of(result_path)
    if view.report is None:
        raise refuse_report(result_path, kind, view)
    folder = Path(out_root) / result_path.stem
    folder.mkdir(parents=True, exist_ok=True)
    return view.report(result_path, folder)
