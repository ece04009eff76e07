"""Charts drawn from result files only (matplotlib, Agg): one figure per scenario and parameters.

Throughput, p99 latency, server CPU per request and server memory, each against concurrency,
one line per runner with the spread over repetitions as a band. Failed levels are marked as
failed, never drawn as figures; client-bound points are hollow. A runner that reported a pool size
(backend scenario) is labelled with it, and a bounded pool gets its pool / D ceiling as a dashed line.
"""
from __future__ import annotations

import statistics
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from concbench.registry import RUNNERS  # noqa: E402
from concbench.results.measurement import merge_histograms  # noqa: E402

from .axes import log_ticks, log_x_axis, log_y_axis  # noqa: E402,F401  (log_ticks: a public name of charts)
from .capacity import capacities  # noqa: E402
from .cases import case_params, group_cases  # noqa: E402
from .palette import runner_colours, runner_linestyle  # noqa: E402,F401
from .wording import machine_line  # noqa: E402

# metric key -> (axis label, scale to display units, log y?)
PANELS = {
    "throughput": ("throughput_rps", "verified requests / s", 1.0, False),
    "latency-p99": ("latency_p99_s", "p99 latency (ms)", 1e3, True),
    "cpu-per-request": ("server_cpu_per_request_s", "server CPU per request (µs)", 1e6, False),
    # PSS: shared pages divided among the processes sharing them, the fair sum for pre-forked workers
    "memory": ("server_pss_bytes", "server PSS, peak in window, all processes (MiB)", 1 / (1 << 20), False),
}


def scenario_label(scenario: str, params) -> str:
    """'echo (size=64)', or just 'http' for a scenario without parameters."""
    return f"{scenario} ({', '.join(f'{k}={v}' for k, v in params)})" if params else scenario


def save_figure(fig, records: list[dict], path, rect=(0, 0.02, 1, 1)) -> None:
    """Every chart's footer (machine, Python, profile, commit), then write the PNG and free the figure."""
    fig.text(0.5, 0.005, machine_line(records), ha="center", fontsize=8, color="#444")
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def series(records: list[dict], key: str, scale: float):
    """(scenario, params) -> runner -> sorted [(connections, median, low, high, n_ok, n_all, client_bound)]."""
    out: dict = defaultdict(lambda: defaultdict(list))
    for (scenario, params, connections, runner), reps in group_cases(records).items():
        out[(scenario, params)][runner].append(point(connections, reps, key, scale))
    for by_runner in out.values():
        for points in by_runner.values():
            points.sort()
    return out


def point(x, reps: list[dict], key: str, scale: float) -> tuple:
    """(x, median, low, high, n_ok, n_all, client_bound) over the repetitions that passed."""
    passed = [r for r in reps if r["status"] == "ok" and r.get(key)]
    values = [r[key] * scale for r in passed]
    return (x, statistics.median(values) if values else None, min(values) if values else None,
            max(values) if values else None, len(passed), len(reps), any(r.get("client_bound") for r in passed))


def server_pools(records: list[dict], scenario: str, params: tuple) -> dict[str, str]:
    """runner -> the pool size its server reported on its ready line ("unbounded" or a count), if any."""
    pools = {}
    for (s, p, _, runner), reps in group_cases(records).items():
        if (s, p) == (scenario, params):
            for record in reps:
                if record.get("server_pool"):
                    pools[runner] = str(record["server_pool"])
    return pools


def pool_ceilings(pools: dict[str, str], params: tuple) -> dict[str, float]:
    """runner -> pool / D in requests/s for bounded pools, from the recorded pool size and delay_ms."""
    delay_ms = dict(params).get("delay_ms")
    if not delay_ms:
        return {}
    return {runner: int(pool) / (delay_ms / 1e3) for runner, pool in pools.items() if pool.isdigit()}


def runner_label(runner: str, pools: dict[str, str]) -> str:
    pool = pools.get(runner)
    if pool is None:
        return runner
    return f"{runner} (unbounded: per connection)" if pool == "unbounded" else f"{runner} (pool {pool})"


def draw_panel(ax, by_runner: dict, label: str, log_y: bool, colours: dict, labels: dict | None = None,
               failed_word: str = "failed") -> None:
    failed_at: dict = defaultdict(int)           # stack the labels of failures at the same x
    for runner, points in sorted(by_runner.items()):
        colour = colours[runner]
        ok = [p for p in points if p[1] is not None]
        if ok:
            xs = [p[0] for p in ok]
            ax.plot(xs, [p[1] for p in ok], runner_linestyle(runner), color=colour,
                    label=(labels or {}).get(runner, runner), linewidth=1.6)
            ax.fill_between(xs, [p[2] for p in ok], [p[3] for p in ok], color=colour, alpha=0.18, linewidth=0)
            for x, median, _, _, passed, total, bound in ok:
                ax.plot([x], [median], "o", color=colour, markersize=5,
                        markerfacecolor="white" if bound else colour)
                if passed < total:                # some repetitions failed: say so at the point
                    ax.annotate(f"{passed}/{total} ok", (x, median), textcoords="offset points",
                                xytext=(4, 4), fontsize=7, color=colour)
        failed = [p for p in points if p[1] is None]
        for x, *_ in failed:
            ax.plot([x], [0.0], marker="x", color=colour, markersize=9, markeredgewidth=2, linestyle="none",
                    transform=ax.get_xaxis_transform(), clip_on=False)
            ax.text(x, 0.03 + 0.045 * failed_at[x], f"{runner} {failed_word}", color=colour, fontsize=7,
                    ha="center", transform=ax.get_xaxis_transform())
            failed_at[x] += 1
    levels = sorted({p[0] for points in by_runner.values() for p in points})
    if levels:
        ax.set_xlim(levels[0] / 1.6, levels[-1] * 1.6)   # also keeps a single level drawable
    ax.set_xscale("log")
    if levels:                                      # ticks at the measured levels, as plain numbers
        ax.set_xticks(levels)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda value, _: f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"))
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    if log_y:
        log_y_axis(ax)
    else:
        cut_outliers(ax, by_runner, colours)
    ax.set_xlabel("concurrent connections (log scale)")
    ax.set_ylabel(label)
    ax.grid(True, which="both", alpha=0.3)


def cut_outliers(ax, by_runner: dict, colours: dict) -> None:
    """A linear panel where one runner's figure would flatten the rest: the y axis is cut above the others and
    each point beyond the cut is written at the top edge with its value."""
    highs = [max((p[3] for p in points if p[3] is not None), default=None) for points in by_runner.values()]
    limit = outlier_limit([h for h in highs if h is not None])
    if not limit:
        return
    ax.set_ylim(0, limit)
    for runner, points in sorted(by_runner.items()):
        for x, median, _, high, *_ in points:
            if high is not None and high > limit:
                text = f"{median:,.0f}" if median >= 100 else f"{median:.3g}"
                ax.annotate(f"{runner}: {text} (axis cut)", (x, limit), xytext=(0, -10), textcoords="offset points",
                            ha="center", fontsize=7, color=colours[runner],
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colours[runner], "lw": 0.6})


def draw_bars(records: list[dict], scenario: str, params: tuple, connections: int, path) -> None:
    """One concurrency level only: the four panels as horizontal bars per runner (median, min-max whisker);
    a runner whose every repetition failed gets the word instead of a bar."""
    groups = group_cases(records)
    runners = sorted(r for (s, p, c, r) in groups if (s, p, c) == (scenario, params, connections))
    colours = runner_colours(runners)
    fig, axes = plt.subplots(2, 2, figsize=(14, 3.2 + 0.42 * len(runners)))
    for ax, (title, (key, label, scale, _)) in zip(axes.flat, PANELS.items()):
        highs = [point(connections, groups[(scenario, params, connections, runner)], key, scale)[3]
                 for runner in runners]
        limit = outlier_limit([h for h in highs if h is not None])
        cut = False
        for row, runner in enumerate(runners):
            x, median, low, high, n_ok, n_all, bound = point(connections, groups[(scenario, params, connections,
                                                                                  runner)], key, scale)
            if median is None:
                ax.text(0, row, f"  {runner}: every repetition failed", va="center", fontsize=8, color="#b00")
                continue
            shown_median, shown_high = min(median, limit or median), min(high, limit or high)
            ax.barh(row, shown_median, color=colours[runner], hatch="///" if bound else None, edgecolor="white",
                    xerr=[[max(shown_median - low, 0)], [shown_high - shown_median]], capsize=3)
            note = f" {n_ok}/{n_all} ok" if n_ok < n_all else ""
            figure = f"{median:,.0f}" if median >= 100 else f"{median:.3g}"
            if limit and high > limit:            # the axis is cut: the true figures as words at the edge
                top = f"{high:,.0f}" if high >= 100 else f"{high:.3g}"
                ax.annotate(f"{figure} (max {top}) >>{note}{' (client-bound)' if bound else ''}", (limit, row),
                            xytext=(-4, 0), textcoords="offset points", ha="right", va="center", fontsize=7,
                            color="#a00", bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#a00", "lw": 0.6})
                cut = True
                continue
            ax.text(shown_high, row, f" {figure}{note}{' (client-bound)' if bound else ''}", va="center", fontsize=7)
        ax.set_yticks(range(len(runners)))
        ax.set_yticklabels(runners, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        if limit:
            ax.set_xlim(0, limit)
        ax.set_title(title + (" (axis cut: >> marks a figure beyond it)" if cut else ""))
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"{scenario_label(scenario, params)}, {connections} connection{'' if connections == 1 else 's'}: bar = median over repetitions, "
                 f"whisker = min-max; hatched bar = client-bound (load generator core > 90% busy)", fontsize=10)
    save_figure(fig, records, path, rect=(0, 0.02, 1, 0.95))


def outlier_limit(values: list[float]) -> float | None:
    """Where to cut a linear axis so one outlier does not flatten the rest: above 3x the second-largest
    value, cut at 1.6x it; None when nothing stands out that far."""
    ordered = sorted(v for v in values if v is not None and v > 0)
    if len(ordered) < 3 or ordered[-1] <= 3 * ordered[-2]:
        return None
    return 1.6 * ordered[-2]


def draw_scenario(records: list[dict], scenario: str, params: tuple, path) -> None:
    """Four panels for one scenario and parameter set, written to `path` (PNG)."""
    levels = sorted({c for (s, p, c, _) in group_cases(records) if (s, p) == (scenario, params)})
    if len(levels) == 1:
        draw_bars(records, scenario, params, levels[0], path)
        return
    runners = sorted({runner for (s, p, _, runner) in group_cases(records) if (s, p) == (scenario, params)})
    colours = runner_colours(runners)
    pools = server_pools(records, scenario, params)
    ceilings = pool_ceilings(pools, params)
    labels = {runner: runner_label(runner, pools) for runner in runners}
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    for ax, (title, (key, label, scale, log_y)) in zip(axes.flat, PANELS.items()):
        data = series(records, key, scale).get((scenario, params), {})
        if title == "throughput" and ceilings:
            log_y = True                          # pool ceilings and event loops span decades
            label = f"{label} (log scale)"
        draw_panel(ax, data, label, log_y, colours, labels)
        if title == "throughput":
            for runner, ceiling in sorted(ceilings.items()):
                ax.axhline(ceiling, color=colours[runner], linestyle="--", linewidth=1.2,
                           label=f"{runner}: pool {pools[runner]} / D = {ceiling:,.0f}/s")
            if ceilings:
                title = (f"throughput (dashed: a bounded pool's ceiling, pool / D, "
                         f"D = {dict(params)['delay_ms']} ms)")
        ax.set_title(title)
    handles = {}
    for ax in axes.flat:                          # every runner, even one with a single panel of data
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    # long labels (pool sizes, ceilings) need a wider margin so the legend stays off the panels
    right = 0.88 if max(map(len, handles), default=0) <= 24 else 0.78
    fig.legend(list(handles.values()), list(handles), loc="center right", fontsize=9, title="runner")
    fig.suptitle(f"{scenario_label(scenario, params)}: line = median over repetitions, band = min-max\n"
                 f"x = every repetition at that level failed (errors, timeouts or starved connections)\n"
                 f"hollow marker = client-bound (load generator core > 90% busy); "
                 f"'k/n ok' = figure from the k of n repetitions that passed; dashed = a variant (its family's hue)",
                 fontsize=10)
    save_figure(fig, records, path, rect=(0, 0.02, right, 0.93))


def scenario_keys(records: list[dict]) -> list[tuple]:
    return sorted({(scenario, params) for (scenario, params, _, _) in group_cases(records)})


def rate_sweep_keys(records: list[dict]) -> list[tuple]:
    """(scenario, params without rate, connections) that have open-loop measurements."""
    keys = set()
    for record in records:
        if record.get("offered_rate"):
            params = tuple(sorted((k[len("param_"):], v) for k, v in record.items() if k.startswith("param_")))
            keys.add((record["scenario"], params, record["offered_connections"]))
    return sorted(keys)


def draw_rate_sweep(records: list[dict], scenario: str, params: tuple, connections: int, path) -> None:
    """p99 latency (corrected and uncorrected) against offered rate, one colour per runner."""
    chosen = [r for r in records if r.get("offered_rate") and r["scenario"] == scenario
              and r["offered_connections"] == connections
              and tuple(sorted((k[len("param_"):], v) for k, v in r.items() if k.startswith("param_"))) == params]
    runners = sorted({r["runner"] for r in chosen})
    colours = runner_colours(runners)
    target = chosen[0].get("p99_target_s", 0.010) if chosen else 0.010
    found = capacities(chosen)
    fig, ax = plt.subplots(figsize=(11, 6.5))
    for runner in runners:
        colour = colours[runner]
        by_rate: dict = defaultdict(list)
        for r in chosen:
            if r["runner"] == runner and r["status"] == "ok":
                by_rate[r["offered_rate"]].append(r)
        rates = sorted(by_rate)
        corrected = [statistics.median(x["latency_p99_s"] for x in by_rate[q]) * 1e3 for q in rates]
        uncorrected = [statistics.median(x["latency_uncorrected_p99_s"] for x in by_rate[q]) * 1e3 for q in rates]
        ax.plot(rates, corrected, "o-", color=colour, label=f"{runner}: p99 from intended send (corrected)")
        ax.plot(rates, uncorrected, "s--", color=colour, alpha=0.6, markersize=4,
                label=f"{runner}: p99 from actual send (uncorrected)")
        for q in rates:
            if any(x.get("overloaded") for x in by_rate[q]):
                ax.plot([q], [corrected[rates.index(q)]], "o", markersize=12, markerfacecolor="none",
                        markeredgecolor="red")
        capacity = found.get((scenario, params, connections, runner), {}).get("median")
        if capacity:
            ax.axvline(capacity, color=colour, linestyle=":", linewidth=1.5)
            ax.annotate(f"{runner} capacity\n{capacity:,.0f}/s", (capacity, target * 1e3), color=colour,
                        textcoords="offset points", xytext=(4, 8), fontsize=8)
    ax.axhline(target * 1e3, color="black", linewidth=1, linestyle="-.", label=f"p99 target {target * 1e3:g} ms")
    log_x_axis(ax)
    log_y_axis(ax)
    ax.set_xlabel("offered rate, requests/s in total (open loop, log scale)")
    ax.set_ylabel("p99 latency (ms, log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"{scenario_label(scenario, params)}, {connections} connection{'' if connections == 1 else 's'}: latency against offered rate\n"
                 f"red ring = overloaded (achieved < 99% of offered); dotted line = capacity at the p99 target",
                 fontsize=10)
    save_figure(fig, records, path, rect=(0, 0.02, 1, 1))


SPECTRUM_PERCENTILES = (50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99)


def spectrum_keys(records: list[dict]) -> list[tuple]:
    """(scenario, params, connections) with closed-loop histograms."""
    return sorted({(s, p, c) for (s, p, c, _), reps in group_cases(records).items()
                   if any(r.get("latency_histogram") and r["status"] == "ok" for r in reps)})


def draw_spectrum(records: list[dict], scenario: str, params: tuple, connections: int, path) -> None:
    """HdrHistogram-style percentile spectrum per runner at one load: histograms of the passing
    repetitions merged, x = percentile on a 'nines' scale, y = latency (log)."""
    fig, ax = plt.subplots(figsize=(11, 6.5))
    groups = group_cases(records)
    runners = sorted(r for (s, p, c, r) in groups if (s, p, c) == (scenario, params, connections))
    colours = runner_colours(runners)
    for i, runner in enumerate(runners):
        reps = [r for r in groups[(scenario, params, connections, runner)]
                if r["status"] == "ok" and r.get("latency_histogram")]
        if not reps:
            continue
        merged = merge_histograms(r["latency_histogram"] for r in reps)
        xs = [1 / (1 - pct / 100) for pct in SPECTRUM_PERCENTILES]
        ys = [merged.percentile(pct) / 1e6 for pct in SPECTRUM_PERCENTILES]
        ax.plot(xs, ys, marker="o", linestyle=runner_linestyle(runner), color=colours[runner],
                label=f"{runner} ({merged.total:,} requests, {len(reps)} reps)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [1 / (1 - pct / 100) for pct in SPECTRUM_PERCENTILES]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"p{pct:g}" for pct in SPECTRUM_PERCENTILES])
    ax.minorticks_off()
    log_y_axis(ax)
    ax.set_xlabel("percentile ('nines' scale: p90, p99, p99.9 and p99.99 are evenly spaced, each 10x rarer than the last)")
    ax.set_ylabel("latency (ms, log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"{scenario_label(scenario, params)}, {connections} connection{'' if connections == 1 else 's'}: latency percentile spectrum\n"
                 f"histograms of every repetition that passed, merged (3 significant digits)", fontsize=10)
    save_figure(fig, records, path, rect=(0, 0.02, 1, 1))


# Slow clients (run --slow-clients): the fast clients' figures, and how many slow clients were served
SLOW_PANELS = {
    "fast clients' throughput": ("throughput_rps", "fast clients: verified requests / s", 1.0, False),
    "fast clients' p99 latency": ("latency_p99_s", "fast clients: p99 latency (ms, log scale)", 1e3, True),
    "slow clients served": ("slow_served_share", "slow clients with a verified reply (% of them)", 100.0, False),
}


def slow_keys(records: list[dict]) -> list[tuple]:
    """(scenario, params, connections) measured with slow clients as a dimension (closed loop)."""
    return sorted({(r["scenario"], case_params(r), r["offered_connections"]) for r in records
                   if r.get("slow_clients") is not None and not r.get("offered_rate")})


def runner_family(runner: str) -> str:
    """Rows of the slow-clients chart: the shared session, or each framework's own HTTP stack."""
    known = RUNNERS.get(runner)
    return "framework's own HTTP stack" if known is not None and known.own_http_stack else "shared session"


def slow_point(x, reps: list[dict], key: str, scale: float) -> tuple:
    """As point(), but the slow clients' share is evidence from every repetition (failed ones too), 0 included."""
    if key != "slow_served_share":
        return point(x, reps, key, scale)
    shares = [r[key] * scale for r in reps if r.get(key) is not None]
    if not shares:
        return (x, None, None, None, 0, 0, False)
    return (x, statistics.median(shares), min(shares), max(shares), len(shares), len(shares), False)


def draw_slow_clients(records: list[dict], scenario: str, params: tuple, connections: int, path) -> None:
    """Fast clients' throughput and p99 against the number of slow clients, and the share of slow clients
    that got a verified reply: one line per runner (median, min-max as a bar), a row per runner family,
    x = each slow-client level, evenly spaced; a level where every repetition failed is an x at the bottom."""
    chosen = [dict(r, slow_served_share=r.get("slow_served_connections", 0) / r["slow_clients"]
                   if r.get("slow_clients") else None)
              for r in records if r.get("slow_clients") is not None and not r.get("offered_rate")
              and (r["scenario"], case_params(r), r["offered_connections"]) == (scenario, params, connections)]
    levels = sorted({r["slow_clients"] for r in chosen})
    families = sorted({runner_family(r["runner"]) for r in chosen}, key=lambda f: f != "shared session")
    colours = runner_colours(sorted({r["runner"] for r in chosen}))
    fig, axes = plt.subplots(len(families), len(SLOW_PANELS), figsize=(19, 5.6 * len(families)), squeeze=False)
    for row, family in zip(axes, families):
        runners = sorted({r["runner"] for r in chosen if runner_family(r["runner"]) == family})
        dodge = {runner: (i - (len(runners) - 1) / 2) * 0.05 for i, runner in enumerate(runners)}
        for ax, (title, (key, label, scale, log_y)) in zip(row, SLOW_PANELS.items()):
            failures = []
            for runner in runners:
                colour = colours[runner]
                points = []
                for position, level in enumerate(levels, start=1):
                    reps = [r for r in chosen if r["runner"] == runner and r["slow_clients"] == level]
                    if reps and not (key == "slow_served_share" and level == 0):
                        points.append(slow_point(position + dodge[runner], reps, key, scale))
                ok = [p for p in points if p[1] is not None]
                if ok:
                    ax.errorbar([p[0] for p in ok], [p[1] for p in ok],
                                yerr=[[p[1] - p[2] for p in ok], [p[3] - p[1] for p in ok]], fmt="-", color=colour,
                                linewidth=1.6, elinewidth=1, capsize=3, label=runner)
                    for x, median, _, _, passed, total, bound in ok:
                        ax.plot([x], [median], "o", color=colour, markersize=5,
                                markerfacecolor="white" if bound else colour)
                        if passed < total:
                            ax.annotate(f"{passed}/{total} ok", (x, median), textcoords="offset points",
                                        xytext=(4, 4), fontsize=7, color=colour)
                for x, *_ in (p for p in points if p[1] is None):
                    ax.plot([x], [0.0], marker="x", color=colour, markersize=9, markeredgewidth=2, linestyle="none",
                            transform=ax.get_xaxis_transform(), clip_on=False)
                    failures.append(f"{runner} at {levels[round(x) - 1]}")
            if failures:
                ax.text(0.01, 0.99, "x = every repetition failed (fast clients starved):\n" + "\n".join(failures),
                        transform=ax.transAxes, va="top", fontsize=7, color="#a00")
            ax.set_xlim(0.6, len(levels) + 0.4)
            ax.set_xticks(list(range(1, len(levels) + 1)))
            ax.set_xticklabels([str(level) for level in levels])
            ax.set_xlabel("slow clients (each trickling requests a few bytes at a time)")
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
            if log_y:
                log_y_axis(ax)
            elif key == "slow_served_share":
                ax.set_ylim(-5, 105)
            else:
                ax.set_ylim(bottom=0)
            ax.set_title(f"{title}: {family}")
        row[-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5), title="runner")
    shaped = next((r for r in chosen if r.get("slow_step_bytes")), {})
    step = (f" ({shaped['slow_step_bytes']} bytes every {shaped.get('slow_interval_s', 0) * 1e3:g} ms)"
            if shaped else "")
    fig.suptitle(f"{scenario_label(scenario, params)}, {connections} fast connections measured while N slow clients trickle "
                 f"requests{step}\nline and dot = median over repetitions, bar = min-max, hollow = client-bound, "
                 f"'k/n ok' = from the k of n repetitions that passed; slow clients served = the share that got at "
                 f"least one verified reply (every repetition)", fontsize=10)
    save_figure(fig, records, path, rect=(0, 0.02, 1, 0.95))
