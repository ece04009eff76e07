"""The backpressure table and chart, from a `concbench backpressure` result file only.

Per runner and number of slow readers: the median over repetitions (and min-max) of the server's peak
PSS (the fair figure for a multi-process server: shared pages divided), RSS, and the fast readers' verified
MB/s; the chart draws PSS and MB/s against the number of slow readers.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from concbench.results.format import NotAResult, load_measurements
from concbench.results.kinds import BACKPRESSURE, kind_of_record

from .palette import runner_colours
from .table_page import save_chart, write_table_and_chart_report

MIB = 1 << 20


def stream_records(path) -> list[dict]:
    records = [r for r in load_measurements(path) if kind_of_record(r) is BACKPRESSURE]
    if not records:
        raise NotAResult(f"{path}: a concbench result, but not of `concbench backpressure`")
    return records


def cells(records: list[dict]) -> dict[tuple[str, int], list[dict]]:
    """(runner, slow readers) -> its repetitions, in the order runners first appear."""
    grouped: dict[tuple[str, int], list[dict]] = {}
    for record in records:
        grouped.setdefault((record["runner"], int(record["slow_readers"])), []).append(record)
    return grouped


def spread(values) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def is_unbounded(record: dict) -> bool:
    return "flow=unbounded" in str(record.get("fixed_options", ""))


def backpressure_table(path) -> str:
    records = stream_records(path)
    first = records[0]
    lines = [f"backpressure: payload {int(first['stream_size']) / MIB:g} MiB per connection, "
             f"{first.get('fast_readers', '?')} fast readers, slow readers at "
             f"{float(first.get('slow_rate_target_b_s', 0)) / MIB:g} MiB/s (SO_RCVBUF {first.get('slow_rcvbuf', '?')}); "
             f"window {float(first.get('window_s', 0)):.1f} s; server memory sampled every "
             f"{float(first.get('sample_interval_s', 0)) * 1e3:.0f} ms over warm-up and window",
             "median (min-max) over the repetitions that passed; MB = 10^6 bytes, every byte verified",
             f"{'runner':<18} {'slow':>4} {'peak PSS MiB':>22} {'peak RSS':>8} {'fast MB/s':>22} {'slow MB/s':>9} "
             f"{'srv cpu':>7} {'cli core':>8}  status"]
    for (runner, slow), reps in cells(records).items():
        ok = [r for r in reps if r["status"] == "ok"]
        status = f"{len(ok)}/{len(reps)} ok"
        if len(ok) < len(reps):
            status += f": {next(r for r in reps if r['status'] != 'ok').get('first_error', '')}"
        starved = sum(int(r.get("starved_fast", 0)) for r in ok)
        if starved:
            status += f"; {starved} fast reader(s) starved"
        label = runner + (" (unbounded)" if is_unbounded(reps[0]) and "unbounded" not in runner else "")
        if not ok:
            lines.append(f"{label:<18} {slow:>4} {'-':>22} {'-':>8} {'-':>22} {'-':>9} {'-':>7} {'-':>8}  {status}")
            continue
        pss = spread([r["server_peak_pss_bytes"] / MIB for r in ok])
        rss = statistics.median([r["server_peak_rss_bytes"] / MIB for r in ok])
        fast = spread([r["fast_mb_s"] for r in ok])
        slow_rate = statistics.median([r["slow_rate_median_b_s"] / 1e6 for r in ok]) if slow else None
        cpu = statistics.median([r.get("server_cpu_pct", 0.0) for r in ok])
        core = statistics.median([r.get("loadgen_core_busy_pct", 0.0) for r in ok])
        lines.append(f"{label:<18} {slow:>4} {f'{pss[0]:,.0f} ({pss[1]:,.0f}-{pss[2]:,.0f})':>22} {rss:>8,.0f} "
                     f"{f'{fast[0]:,.0f} ({fast[1]:,.0f}-{fast[2]:,.0f})':>22} "
                     f"{'-' if slow_rate is None else f'{slow_rate:.2f}':>9} {cpu:>6.0f}% {core:>7.0f}%  {status}")
    lines.append("peak PSS/RSS: the server's whole process tree, summed (processes: one worker per reader, so RSS "
                 "counts shared pages once per worker, PSS divides them); slow MB/s: median slow reader's verified "
                 "rate; cli core above 90%: the client had no headroom, fast MB/s is a lower bound")
    return "\n".join(lines)


def write_backpressure_chart(path, output: str | Path | None = None) -> Path:
    """Two panels against the number of slow readers: peak server PSS (log scale) and fast-reader MB/s."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .axes import log_y_axis           # matplotlib, imported with the chart only
    records = stream_records(path)
    grouped = cells(records)
    levels = sorted({slow for _, slow in grouped})
    runners = list(dict.fromkeys(runner for runner, _ in grouped))
    fig, (ax_mem, ax_fast) = plt.subplots(1, 2, figsize=(13, 6.4))
    colours = runner_colours(runners)
    drawn = False
    for runner in runners:
        xs, rss, rss_err, fast, fast_err = [], [], [[], []], [], [[], []]
        unbounded = False
        for position, slow in enumerate(levels):
            ok = [r for r in grouped.get((runner, slow), []) if r["status"] == "ok"]
            if not ok:
                continue
            unbounded = unbounded or is_unbounded(ok[0])
            mid, low, high = spread([r["server_peak_pss_bytes"] / MIB for r in ok])
            xs.append(position)
            rss.append(mid)
            rss_err[0].append(mid - low)
            rss_err[1].append(high - mid)
            mid, low, high = spread([r["fast_mb_s"] for r in ok])
            fast.append(mid)
            fast_err[0].append(mid - low)
            fast_err[1].append(high - mid)
        if not xs:
            continue
        drawn = True
        style = dict(color=colours[runner], marker="o", capsize=3, linewidth=1.6,
                     linestyle="--" if unbounded else "-")
        label = runner + (" (UNBOUNDED)" if unbounded else "")
        ax_mem.errorbar(xs, rss, yerr=rss_err, label=label, **style)
        ax_fast.errorbar(xs, fast, yerr=fast_err, label=label, **style)
    if not drawn:
        raise NotAResult(f"{path}: no repetition passed; nothing to draw")
    first = records[0]
    for ax in (ax_mem, ax_fast):
        ax.set_xticks(range(len(levels)))
        ax.set_xticklabels([str(level) for level in levels])
        ax.set_xlabel(f"slow readers ({float(first.get('slow_rate_target_b_s', 0)) / MIB:g} MiB/s each), "
                      f"plus {first.get('fast_readers', '?')} fast readers")
        ax.grid(which="both", alpha=0.3)
    log_y_axis(ax_mem)                     # 1-2-5 labelled ticks, as every log axis
    ax_mem.set_ylabel("server peak PSS, MiB (log scale; median, whiskers min-max)")
    ax_mem.set_title("Server peak memory (whole process tree, PSS)")
    ax_fast.set_ylabel("MB/s verified to the fast readers, all summed (10^6 bytes)")
    ax_fast.set_ylim(bottom=0)
    ok = [r for r in records if r["status"] == "ok"]
    bound = sum(float(r.get("loadgen_core_busy_pct", 0)) > 90 for r in ok)
    ax_fast.set_title(f"Throughput to the fast readers\n(client core over 90% busy in {bound} of {len(ok)} runs: "
                      f"there, a lower bound)", fontsize=10)
    handles, labels = ax_mem.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    fig.suptitle(f"Backpressure: {int(first['stream_size']) / MIB:g} MiB streamed per connection in "
                 f"{int(first.get('stream_chunk', 0)) / 1024:g} KiB writes; {first.get('cpu_model_name', 'unknown cpu')}, "
                 f"Python {first.get('python_version', '?')}, {first.get('date', '')[:16]}", fontsize=10)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return save_chart(fig, path, output)


def write_backpressure_report(result_path: Path, folder: Path) -> list[Path]:
    """The report of a `concbench backpressure` result: its table and chart (index.html, summary.md, the PNG)."""
    chart = write_backpressure_chart(result_path, folder / "backpressure.png")
    return write_table_and_chart_report("backpressure", result_path, stream_records(result_path), folder,
                                        backpressure_table(result_path), chart)
