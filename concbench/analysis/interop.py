"""The interop chart and table: the same Protocol code on each loop it runs on (Twisted on epoll, asyncio and
uvloop; Tornado on asyncio and uvloop; asyncio's Protocol on its selector loop and uvloop), with the bare
`selectors` loop as the floor line; throughput and server CPU per request, echo and http.

Drawn from result files only, when the run measured at least one interop pairing (make interop).
"""
from __future__ import annotations

import statistics

from concbench.registry import INTEROP, RUNNERS, loop_name

from .charts import plt, save_figure, scenario_label
from .cases import group_cases

LOOP_LABELS = {"twisted-epoll": "epoll reactor", "asyncio": "asyncio selector", "uvloop": "uvloop"}
# family -> [(runner, loop)]: the same code, loop by loop (first: the framework's own default loop), from the registry
FAMILIES = tuple((family, tuple((runner, LOOP_LABELS[loop_name(RUNNERS[runner])]) for runner in members))
                 for family, members in INTEROP.families)
FLOOR = INTEROP.floor
LOOP_COLOURS = {"epoll reactor": "#4c72b0", "asyncio selector": "#dd8452", "uvloop": "#55a868"}
METRICS = (("throughput_rps", "verified requests / s", 1.0), ("server_cpu_per_request_s", "server CPU per request (µs)", 1e6))
INTEROP_ONLY = set(INTEROP.only_here)


def interop_keys(records: list[dict]) -> list[tuple]:
    """(scenario, params, connections) of echo/http cells where an interop runner was measured: the highest level."""
    cells = {}
    for (scenario, params, connections, runner) in group_cases(records):
        if scenario in ("echo", "http") and runner in INTEROP_ONLY:
            key = (scenario, params)
            cells[key] = max(cells.get(key, 0), connections)
    return sorted((s, p, c) for (s, p), c in cells.items())


def figure(reps: list[dict], key: str, scale: float):
    """(median, min, max, passed, all) over the repetitions that passed, or None if none did."""
    values = [r[key] * scale for r in reps if r["status"] == "ok" and r.get(key)]
    if not values:
        return None
    return statistics.median(values), min(values), max(values), len(values), len(reps)


def interop_table(records: list[dict]) -> str:
    """One row per runner of the chart: throughput and CPU per request, and each against its family's first loop
    and against the selectors floor; client-bound repetitions counted (there, read CPU per request: throughput
    is the load generator's limit, not the server's)."""
    groups = group_cases(records)
    lines = []
    for scenario, params, connections in interop_keys(records):
        cell = {runner: reps for (s, p, c, runner), reps in groups.items() if (s, p, c) == (scenario, params, connections)}
        floor = figure(cell.get(FLOOR, []), "throughput_rps", 1.0)
        floor_cpu = figure(cell.get(FLOOR, []), "server_cpu_per_request_s", 1e6)
        lines.append(f"interop: {scenario_label(scenario, params)}, {connections} connections "
                     f"(same code on each loop; floor = {FLOOR})")
        lines.append(f"  {'family':<18} {'runner':<16} {'loop':<17} {'req/s':>9} {'vs first':>8} {'vs floor':>8} "
                     f"{'cpu µs/req':>10} {'vs floor':>8}  client-bound")
        rows = [("floor", ((FLOOR, "selectors (epoll)"),))] + list(FAMILIES)
        for family, members in rows:
            base = None
            for runner, loop in members:
                reps = cell.get(runner)
                if not reps:
                    continue
                rps = figure(reps, "throughput_rps", 1.0)
                cpu = figure(reps, "server_cpu_per_request_s", 1e6)
                if rps is None:
                    lines.append(f"  {family:<18} {runner:<16} {loop:<17} {'FAILED':>9} (0/{len(reps)} repetitions passed)")
                    continue
                base = base or rps
                vs_first = f"{rps[0] / base[0]:.2f}x"
                vs_floor = f"{rps[0] / floor[0]:.2f}x" if floor else "-"
                cpu_text = f"{cpu[0]:.1f}" if cpu else "-"
                cpu_floor = f"{cpu[0] / floor_cpu[0]:.2f}x" if cpu and floor_cpu else "-"
                bound = sum(1 for r in reps if r["status"] == "ok" and r.get("client_bound"))
                lines.append(f"  {family:<18} {runner:<16} {loop:<17} {rps[0]:>9,.0f} {vs_first:>8} {vs_floor:>8} "
                             f"{cpu_text:>10} {cpu_floor:>8}  {f'{bound}/{rps[3]}' if bound else '-'}")
        lines.append("")
    return "\n".join(lines).rstrip()


def draw_interop(records: list[dict], path) -> bool:
    """Grouped bars (family x loop, median with a min-max whisker) for each echo/http cell, throughput and CPU per
    request side by side, the selectors floor as a dashed line. False (nothing drawn) without interop runners."""
    keys = interop_keys(records)
    if not keys:
        return False
    groups = group_cases(records)
    fig, axes = plt.subplots(len(keys), 2, figsize=(15, 4.6 * len(keys)), squeeze=False)
    for row, (scenario, params, connections) in enumerate(keys):
        cell = {runner: reps for (s, p, c, runner), reps in groups.items() if (s, p, c) == (scenario, params, connections)}
        for col, (key, label, scale) in enumerate(METRICS):
            ax = axes[row][col]
            ticks, names = [], []
            x = 0.0
            for family, members in FAMILIES:
                present = [(runner, loop) for runner, loop in members if runner in cell]
                if not present:
                    continue
                start = x
                for runner, loop in present:
                    value = figure(cell[runner], key, scale)
                    if value is None:
                        ax.text(x, 0, "FAILED", rotation=90, ha="center", va="bottom", color="#b00", fontsize=8)
                    else:
                        median, low, high, ok, total = value
                        bound = any(r.get("client_bound") for r in cell[runner] if r["status"] == "ok")
                        ax.bar(x, median, width=0.8, color=LOOP_COLOURS[loop], label=loop,
                               hatch="//" if bound else None, edgecolor="white" if bound else None)
                        ax.errorbar(x, median, yerr=[[median - low], [high - median]], color="black", capsize=3)
                        ax.text(x, median, f"{median:,.0f}" if scale == 1.0 else f"{median:.1f}", ha="center",
                                va="bottom", fontsize=7)
                    x += 1
                ticks.append((start + x - 1) / 2)
                names.append(family)
                x += 0.8
            floor = figure(cell.get(FLOOR, []), key, scale)
            if floor:
                ax.axhline(floor[0], color="black", linestyle="--", linewidth=1.2,
                           label=f"floor: bare selectors loop ({floor[0]:,.0f})" if scale == 1.0
                           else f"floor: bare selectors loop ({floor[0]:.1f})")
            ax.set_ylim(0, ax.get_ylim()[1] * 1.3)          # headroom for the legend above the bars
            ax.set_xticks(ticks)
            ax.set_xticklabels(names, fontsize=9)
            ax.set_ylabel(label)
            ax.set_title(f"{scenario_label(scenario, params)}, {connections} connections: {label}", fontsize=10)
            handles = dict(zip(*reversed(ax.get_legend_handles_labels())))
            ax.legend(list(handles.values()), list(handles), fontsize=8, loc="upper right")
    fig.suptitle("The same code on each loop: bar = median over repetitions, whisker = min-max, "
                 "dashed = the bare selectors loop (the floor),\nhatched = client-bound (load generator core > 90% busy: "
                 "a floor on the server's figure, not its ceiling)", fontsize=11)
    save_figure(fig, records, path, rect=(0, 0.02, 1, 0.94))
    return True
