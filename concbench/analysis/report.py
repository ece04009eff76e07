"""`concbench report RESULT...`: charts (PNG), summary.md and a self-contained index.html per result file.

It reads finished result files only and writes into reports/<result name>/.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

from concbench.results.format import load_measurements

from .capacity import capacity_table
from .html_page import render_page
from .interop import draw_interop, interop_table
from .charts import (draw_rate_sweep, draw_scenario, draw_slow_clients, draw_spectrum, machine_line, rate_sweep_keys,
                     scenario_keys, slow_keys, spectrum_keys)
from .table import summary_table


def write_report(result_path, out_root="reports") -> list[Path]:
    """Write the report for one result file; returns the paths written (index.html first)."""
    result_path = Path(result_path)
    every_record = load_measurements(result_path)
    records = [r for r in every_record if r.get("benchmark") not in ("memory-idle", "stream-backpressure")]
    folder = Path(out_root) / result_path.stem
    folder.mkdir(parents=True, exist_ok=True)
    if not records and every_record[0].get("benchmark") == "stream-backpressure":
        return write_backpressure_report(result_path, every_record, folder)
    if not records:                               # a `concbench memory` result
        return write_memory_report(result_path, every_record, folder)
    charts = []
    placed = []                                  # (scenario, params, caption, path) for the HTML page
    closed_loop = [r for r in records if not r.get("offered_rate")]
    against_concurrency = [r for r in closed_loop if r.get("slow_clients") is None]   # slow clients: own chart
    for scenario, params in scenario_keys(against_concurrency):
        name = scenario + "".join(f"-{k}{v}" for k, v in params) + ".png"
        draw_scenario(against_concurrency, scenario, params, folder / name)
        charts.append(folder / name)
        placed.append((scenario, params, "throughput, p99 latency, CPU per request and PSS against concurrency",
                       folder / name))
    for scenario, params, connections in spectrum_keys(against_concurrency):
        if connections != max(c for (s, p, c) in spectrum_keys(against_concurrency) if (s, p) == (scenario, params)):
            continue                              # the spectrum at the highest load of each scenario
        name = scenario + "".join(f"-{k}{v}" for k, v in params) + f"-c{connections}-latency-spectrum.png"
        draw_spectrum(against_concurrency, scenario, params, connections, folder / name)
        charts.append(folder / name)
        placed.append((scenario, params, f"latency percentile spectrum at {connections:,} connections", folder / name))
    for scenario, params, connections in slow_keys(closed_loop):
        name = scenario + "".join(f"-{k}{v}" for k, v in params) + f"-c{connections}-slow-clients.png"
        draw_slow_clients(closed_loop, scenario, params, connections, folder / name)
        charts.append(folder / name)
        placed.append((scenario, params, f"{connections:,} fast connections against slow clients", folder / name))
    for scenario, params, connections in rate_sweep_keys(records):
        name = f"{scenario}" + "".join(f"-{k}{v}" for k, v in params) + f"-c{connections}-latency-vs-rate.png"
        draw_rate_sweep(records, scenario, params, connections, folder / name)
        charts.append(folder / name)
        placed.append((scenario, params, f"latency against offered rate at {connections:,} connections", folder / name))
    if draw_interop(against_concurrency, folder / "interop.png"):     # only when interop runners were measured
        charts.append(folder / "interop.png")
        placed.append(("interop", (), "the same code on each loop: throughput and CPU per request, echo and http",
                       folder / "interop.png"))
    table = summary_table(result_path)          # ends with the verdicts (analysis.verdicts)
    sections = []
    interop = interop_table(against_concurrency)
    if interop:
        table += "\n\n" + interop
        sections.append(("Interop: the same code on each loop", interop))
    capacity = capacity_table(result_path) if rate_sweep_keys(records) else ""
    if capacity:
        table += "\n\n" + capacity
        sections.append(("Capacity", capacity))
    summary = folder / "summary.md"
    summary.write_text(f"# concbench: {result_path.name}\n\n{machine_line(records)}\n\n"
                       f"Command: `{records[0].get('command', '?')}`\n\n```\n{table}\n```\n\n"
                       + "".join(f"![{c.name}]({c.name})\n" for c in charts))
    index = folder / "index.html"
    placed.sort(key=lambda item: (item[0], item[1]))     # grouped by scenario, in the order drawn within one
    index.write_text(render_page(result_path.name, machine_line(records), str(records[0].get("command", "?")),
                                 records, placed, sections))
    return [index, summary, *charts]


def write_table_and_chart_report(command: str, result_path: Path, records: list[dict], folder: Path, table: str,
                                 chart: Path) -> list[Path]:
    """The report of a command with one table and one chart (memory, backpressure): summary.md and index.html."""
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


def write_memory_report(result_path: Path, records: list[dict], folder: Path) -> list[Path]:
    """The report of a `concbench memory` result: its table and chart."""
    from .memory import memory_table, write_memory_chart
    chart = write_memory_chart(result_path, folder / "memory-per-connection.png")
    return write_table_and_chart_report("memory", result_path, records, folder, memory_table(result_path), chart)


def write_backpressure_report(result_path: Path, records: list[dict], folder: Path) -> list[Path]:
    """The report of a `concbench backpressure` result: its table and chart."""
    from .backpressure import backpressure_table, write_backpressure_chart
    chart = write_backpressure_chart(result_path, folder / "backpressure.png")
    return write_table_and_chart_report("backpressure", result_path, records, folder,
                                        backpressure_table(result_path), chart)
