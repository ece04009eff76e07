"""The tables of the summary kinds (`concbench ceiling` and `concbench clients` files, one JSON object each), as
`concbench show` prints them: the same columns the commands print when they finish. Reads the file only.
"""
from __future__ import annotations

import math
import statistics

from concbench.results.format import NotAResult
from concbench.results.kinds import CEILING, CLIENTS
from concbench.results.summary_file import read_summary


def summary_of(path, kind) -> dict:
    found, summary = read_summary(path)
    if found is not kind:
        raise NotAResult(f"{path}: a {found.name} summary, not a {kind.name} one")
    return summary


def series(values) -> list[float]:
    return [float(v) for v in values or [] if isinstance(v, (int, float))]


def ceiling_table(path) -> str:
    """Echoes per second per client against the reference C server, median (min-max), cores, and the open loop."""
    summary = summary_of(path, CEILING)
    lines = [f"ceiling: echo {summary.get('size', '?')} B, {summary.get('connections', '?')} connections, windows of "
             f"{summary.get('duration_s', '?')} s; commit {str(summary.get('git_commit', '?'))[:12]}",
             f"{'client':<16} {'echoes/s median':>16} {'(min-max)':>22} {'client core':>12} {'server core':>12}"]
    busy, server_busy = summary.get("client_core_busy_pct") or {}, summary.get("server_core_busy_pct") or {}
    for name, values in (summary.get("echoes_per_s") or {}).items():
        rates = series(values)
        if not rates:
            lines.append(f"{name:<16} {'no successful repetition':>16}")
            continue
        client, server = series(busy.get(name)), series(server_busy.get(name))
        lines.append(f"{name:<16} {statistics.median(rates):>16,.0f} ({min(rates):>9,.0f}-{max(rates):>9,.0f}) "
                     f"{statistics.median(client) if client else math.nan:>11.0f}% "
                     f"{statistics.median(server) if server else math.nan:>11.0f}%")
    for name, ratio in (summary.get("ratios_to_c") or {}).items():
        lines.append(f"{name} / C client: {ratio:.2f} (medians of the same run)")
    if summary.get("bare_uvloop_is_unverified"):
        lines.append("bare-uvloop does not verify its echoes")
    for row in summary.get("open_loop") or []:
        if row.get("status") != "ok":
            lines.append(f"open loop {row.get('offered', 0):,.0f}/s: FAILED: {row.get('first_error', '')}")
            continue
        lines.append(f"open loop {row['offered']:,.0f}/s offered: {row['throughput_rps']:,.0f}/s achieved "
                     f"({100 * row['achieved_ratio']:.2f}%){' OVERLOADED' if row.get('overloaded') else ', on schedule'}, "
                     f"p99 {row['latency_p99_s'] * 1e3:.2f} ms corrected / "
                     f"{row['latency_uncorrected_p99_s'] * 1e3:.2f} ms uncorrected")
    return "\n".join(lines)


def clients_table(path) -> str:
    """Each server's median rate as each client saw it, and the ratios to the reference client."""
    summary = summary_of(path, CLIENTS)
    medians = summary.get("medians") or {}
    reference = summary.get("reference_client", "")
    clients = list(dict.fromkeys(c for by_client in medians.values() for c in by_client))
    lines = [f"clients: {summary.get('scenario', '?')}, {summary.get('connections', '?')} connections, windows of "
             f"{summary.get('duration_s', '?')} s; commit {str(summary.get('git_commit', '?'))[:12]}",
             f"{'server':<16} " + " ".join(f"{c:>12}" for c in clients) + f"   ratios to {reference}"]
    for runner, by_client in medians.items():
        cells = " ".join(f"{by_client.get(c, math.nan):>12,.0f}" for c in clients)
        ratios = ", ".join(f"{c} {by_client[c] / by_client[reference]:.2f}x" for c in clients
                           if c != reference and c in by_client and by_client.get(reference))
        lines.append(f"{runner:<16} {cells}   {ratios}")
    server_ratios = summary.get("server_ratios") or {}
    if server_ratios and len(medians) == 2:
        base, head = list(medians)
        lines.append(f"{head} / {base} as each client sees it: "
                     + ", ".join(f"{c} {r:.2f}" for c, r in server_ratios.items()))
    return "\n".join(lines)
