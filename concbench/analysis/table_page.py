"""The report of a result kind with one table and one chart (memory, backpressure): summary.md and a
self-contained index.html in the report's folder. Text and a finished PNG in, two files out.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

from .wording import machine_line


def write_table_and_chart_report(command: str, result_path: Path, records: list[dict], folder: Path, table: str,
                                 chart: Path) -> list[Path]:
    """summary.md and index.html for `concbench {command}`'s result; returns [index, summary, chart]."""
    summary = folder / "summary.md"
    summary.write_text(f"# concbench {command}: {result_path.name}\n\n{machine_line(records)}\n\n"
                       f"Command: `{records[0].get('command', '?')}`\n\n```\n{table}\n```\n\n![{chart.name}]({chart.name})\n")
    index = folder / "index.html"
    index.write_text(
        f"<!doctype html><meta charset='utf-8'><title>concbench {command} report</title>"
        "<body style='font-family:sans-serif;max-width:1800px;margin:auto'>"
        f"<h1>concbench {command}: {html.escape(result_path.name)}</h1><p>{html.escape(machine_line(records))}</p>"
        f"<pre>{html.escape(table)}</pre><img style='max-width:100%' "
        f"src='data:image/png;base64,{base64.b64encode(chart.read_bytes()).decode()}'></body>")
    return [index, summary, chart]


def save_chart(fig, result_path, output=None) -> Path:
    """Save a study's chart as a PNG (at `output`, or reports/<result file's stem>.png), close it, return the path."""
    import matplotlib.pyplot as plt
    target = Path(output) if output else Path("reports") / f"{Path(result_path).stem}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=120)
    plt.close(fig)
    return target
