"""The memory-per-connection table and chart, from a `concbench memory` result file only.

Per runner: the median over repetitions of each fitted slope (bytes per idle connection) with its
min-max spread; the chart sets resident (RSS, PSS) beside virtual (VMS) size on a log scale.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from concbench.results.format import NotAResult, load_measurements
from concbench.results.keys import MEMORY_METRICS
from concbench.results.kinds import MEMORY, kind_of_record

from .table_page import save_chart, write_table_and_chart_report

KINDS = MEMORY_METRICS


def human_bytes(value: float) -> str:
    sign, value = ("-" if value < 0 else ""), abs(value)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{sign}{value / size:.1f} {unit}"
    return f"{sign}{value:.0f} B"


def memory_records(path) -> list[dict]:
    records = [r for r in load_measurements(path) if kind_of_record(r) is MEMORY]
    if not records:
        raise NotAResult(f"{path}: a concbench result, but not of `concbench memory`")
    return records


def by_runner(records: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for record in records:
        grouped.setdefault(record["runner"], []).append(record)
    return grouped


def spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def memory_table(path) -> str:
    records = memory_records(path)
    first = records[0]
    lines = [f"memory per idle connection: slope of a least-squares fit over the levels, median (min-max) over "
             f"repetitions; kernel method {first.get('kernel_method', '?')}; "
             f"MALLOC_ARENA_MAX={first.get('malloc_arena_max', '?')}; THP {first.get('transparent_hugepages', '?')}",
             "KiB per connection: median (min-max)",
             f"{'runner':<20} {'levels':<16} " + " ".join(f"{k.upper():>24}" for k in KINDS)
             + f" {'threads/conn':>12}  status"]
    for runner, reps in by_runner(records).items():
        ok = [r for r in reps if r["status"] == "ok"]
        status = f"{len(ok)}/{len(reps)} ok" + ("" if len(ok) == len(reps) else
                                                 f": {next(r for r in reps if r['status'] != 'ok').get('first_error', '')}")
        levels = (ok or reps)[0].get("memory_levels", "?")
        cells = []
        for kind in KINDS:
            values = [r[f"{kind}_per_connection_bytes"] for r in ok if f"{kind}_per_connection_bytes" in r]
            if values:
                mid, low, high = spread(values)
                cells.append(f"{mid / 1024:,.1f} ({low / 1024:,.1f}-{high / 1024:,.1f})")
            else:
                cells.append("-")
        threads = [r["threads_per_connection"] for r in ok if "threads_per_connection" in r]
        thread_cell = f"{statistics.median(threads):.2f}" if threads else "-"
        lines.append(f"{runner:<20} {levels:<16} " + " ".join(f"{c:>24}" for c in cells)
                     + f" {thread_cell:>12}  {status}")
    lines.append("kernel: the server's share of slab, socket buffers, kernel stacks and page tables "
                 "(client's share removed); processes: per worker, one connection each")
    return "\n".join(lines)


def write_memory_chart(path, output: str | Path | None = None) -> Path:
    """One PNG beside the reports: per runner, RSS, PSS and virtual size per connection (log scale)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = memory_records(path)
    grouped = {runner: [r for r in reps if r["status"] == "ok"] for runner, reps in by_runner(records).items()}
    grouped = {runner: reps for runner, reps in grouped.items() if reps}
    if not grouped:
        raise NotAResult(f"{path}: no repetition passed; nothing to draw")
    runners = list(grouped)
    bars = (("rss", "RSS (resident)", "#1f77b4"), ("pss", "PSS (resident, shared pages divided)", "#2ca02c"),
            ("vms", "virtual size (reserved)", "#ff7f0e"))
    fig, ax = plt.subplots(figsize=(max(8.0, 1.3 * len(runners) + 3), 6.2))
    width = 0.8 / len(bars)
    not_drawn = []
    for index, (kind, label, colour) in enumerate(bars):
        xs, mids, lows, highs = [], [], [], []
        for position, runner in enumerate(runners):
            values = [r[f"{kind}_per_connection_bytes"] for r in grouped[runner]]
            if not values or min(values) <= 0:
                not_drawn.append((position + (index - 1) * width, kind))
                continue       # a log scale cannot show a non-positive slope; the table does
            mid, low, high = spread(values)
            xs.append(position + (index - 1) * width)
            mids.append(mid / 1024)
            lows.append((mid - low) / 1024)
            highs.append((high - mid) / 1024)
        ax.bar(xs, mids, width, yerr=[lows, highs], capsize=3, label=label, color=colour)
        for x, mid in zip(xs, mids):
            ax.annotate(f"{mid:,.1f}" if mid < 100 else f"{mid:,.0f}", (x, mid), ha="center", va="bottom",
                        fontsize=7, xytext=(0, 2), textcoords="offset points", rotation=90)
    from .axes import log_y_axis           # matplotlib, imported with the chart only
    log_y_axis(ax)                         # 1-2-5 labelled ticks, as every log axis
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top * 6)           # room for the labels above the tallest bar
    for x, kind in not_drawn:
        ax.annotate(f"{kind.upper()} <= 0", (x, bottom), ha="center", va="bottom", fontsize=7, rotation=90,
                    xytext=(0, 3), textcoords="offset points")
    ax.set_ylabel("KiB per idle connection (fitted slope; bars: median, whiskers: min-max)")
    ax.set_xticks(range(len(runners)))
    labels = [runner + ("\n(per worker)" if grouped[runner][0].get("memory_mode", "").startswith("server per")
                        else "") for runner in runners]
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=9)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    first = records[0]
    ax.set_title(f"Memory per idle connection, server summed over its processes\n"
                 f"{first.get('cpu_model_name', 'unknown cpu')}, Python {first.get('python_version', '?')}, "
                 f"levels {first.get('memory_levels', '?')} connections "
                 f"(processes: {first.get('memory_process_levels', '?')}), {first.get('date', '')[:16]}",
                 fontsize=10)
    fig.tight_layout()
    return save_chart(fig, path, output)


def write_memory_report(result_path: Path, folder: Path) -> list[Path]:
    """The report of a `concbench memory` result: its table and chart (index.html, summary.md, the PNG)."""
    chart = write_memory_chart(result_path, folder / "memory-per-connection.png")
    return write_table_and_chart_report("memory", result_path, memory_records(result_path), folder,
                                        memory_table(result_path), chart)
