"""The report of a `run` result, from the finished file only, into the folder it is given: the charts (concurrency,
spectra, slow clients, rate sweeps, interop), summary.md with the table and verdicts, a self-contained index.html.
"""
from __future__ import annotations

from pathlib import Path

from concbench.results.format import load_measurements
from concbench.results.kinds import RUN, kind_of_record

from .capacity import capacity_table
from .charts import (draw_rate_sweep, draw_scenario, draw_slow_clients, draw_spectrum, rate_sweep_keys, scenario_keys,
                     slow_keys, spectrum_keys)
from .html_page import render_page
from .interop import draw_interop, interop_table
from .table import summary_table
from .wording import machine_line


def write_run_report(result_path: Path, folder: Path) -> list[Path]:
    """The report of a `run` result in `folder`: charts, summary.md and index.html (first in the list returned)."""
    records = [r for r in load_measurements(result_path) if kind_of_record(r) is RUN]
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
