"""The report's index.html: verdicts first, each scenario in words and explained in two lines, a sortable
HTML table of every case, then the charts (each linked to its full-size PNG). Self-contained, readable at 800 px.

Pure: records, chart paths and text in, one HTML string out (report.py writes it). Explanations come from
the registry through analysis.wording, figures from analysis.export and analysis.verdicts.
"""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from .export import case_rows
from .verdicts import UNSTABLE_HINT, connections_word, scenario_sentence, verdicts
from .wording import scenario_explanation, scenario_short, scenario_title

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1200px;margin:0 auto;padding:0 12px;
 line-height:1.45;color:#222;font-size:15px}
h1{font-size:1.5em;margin:.6em 0 .2em}h2{font-size:1.25em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}
h3{font-size:1.05em;margin:1em 0 .2em}.meta{color:#555;font-size:.88em;margin:.2em 0}
.explain{color:#555;font-size:.88em;margin:.1em 0 .3em}.sentence{margin:.3em 0;font-weight:600;font-size:.97em}
ul.levels{margin:.2em 0 .6em;padding-left:1.2em;font-size:.92em}ul.levels li{margin:.15em 0}
.warn{background:#fff4e5;border-left:4px solid #e69500;padding:.4em .6em;font-size:.9em}
.wrap{overflow-x:auto}table{border-collapse:collapse;font-size:12px;width:100%}
th,td{padding:3px 4px;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
th{background:#f3f3f3;cursor:pointer;white-space:nowrap;position:sticky;top:0}th:after{content:" \\2195";color:#aaa}
td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}td.runner{min-width:9em}
td small{display:block;color:#666;font-size:.85em}td.case{white-space:nowrap}
tr.failed td{color:#a00}tr.unstable td.rps{background:#fff4e5}
figure{margin:.6em 0 1.2em}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}pre{font-size:11px;overflow-x:auto;background:#fafafa;padding:.5em}
dl{font-size:.88em}dt{font-weight:600}dd{margin:0 0 .4em 1em}
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], ascending = th.dataset.order !== "asc";
    th.dataset.order = ascending ? "asc" : "desc";
    function key(row) {
      var cell = row.cells[column], value = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent;
      var number = parseFloat(value);
      return cell.dataset.v !== undefined ? (isNaN(number) ? -Infinity : number) : value.toLowerCase();
    }
    Array.prototype.slice.call(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      return (x > y ? 1 : x < y ? -1 : 0) * (ascending ? 1 : -1);
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""

READING = (
    ("req/s", "verified replies per second in the measuring window: the median over the repetitions that passed, "
              "and their lowest and highest."),
    ("range, +-", "under req/s: the lowest and highest repetition, and how far the 95% interval of the median "
                  "reaches (t-based, on the logarithms of the repetitions); above +-10% the case is unstable and "
                  "its figure is shaded."),
    ("x best", "the best runner's throughput over this runner's at the same scenario and level, with its 95% "
               "interval below; 'same' when the interval holds 1 (no clear difference)."),
    ("p99 ms", "the median over repetitions of each window's 99th-percentile latency."),
    ("runner, status", "below the runner: how many repetitions passed, client-bound or unstable ones, and why "
                       "any failed (a failed repetition gives no figure)."),
    ("CPU", "the server's CPU time over the window, all processes (100% = one core); below it, how busy the load "
            "generator's core was: above 90% the case is client-bound and its figure a lower bound of what the "
            "server can do."),
    ("PSS MiB", "the server's proportional set size: resident memory with shared pages divided among the processes sharing "
                   "them, peak in the window, summed over the server's processes (the charts and compare use the "
                   "same PSS; RSS would count a pre-forked server's shared pages once per worker)."),
)


def esc(text) -> str:
    return html.escape(str(text))


def explanation(scenario: str, params: tuple, levels: list[int], runners: int) -> str:
    """Two lines: what the scenario does (the registry's words), and what was measured here."""
    measured = (f"Measured here at {', '.join(f'{c:,}' for c in levels)} concurrent connection"
                f"{'' if levels == [1] else 's'}, {runners} runner{'' if runners == 1 else 's'}.")
    return f"<p class='explain'>{esc(scenario_explanation(scenario))}.<br>{esc(measured)}</p>"


def verdict_section(records: list[dict], rows: list[dict]) -> str:
    closed_loop = [r for r in records if not r.get("offered_rate")]
    parts = ["<h2>Verdicts</h2><p class='meta'>Throughput, each runner against the best at the same scenario and "
             "level: best/runner as a ratio of geometric means with its 95% interval, paired by repetition; "
             "'no clear difference' when the interval holds 1.</p>"]
    for (scenario, params), levels in verdicts(closed_loop).items():
        runners = {row["runner"] for row in rows if (row["scenario"], tuple(sorted(row["params"].items())))
                   == (scenario, params)}
        title = scenario_title(scenario, params)
        parts.append(f"<h3 id='{esc(anchor(scenario, params))}'>{esc(title)}</h3>")
        parts.append(explanation(scenario, params, [level.connections for level in levels], len(runners)))
        sentence = scenario_sentence(title, levels).split(": ", 1)[1]
        parts.append(f"<p class='sentence'>{esc(sentence[0].upper() + sentence[1:])}</p><ul class='levels'>")
        for level in levels:
            parts.append(f"<li><b>{esc(connections_word(level.connections))}</b>: {esc(level.line())}</li>")
        parts.append("</ul>")
    unstable = sum(1 for row in rows if row["unstable"])
    if unstable:
        parts.append(f"<p class='warn'><b>{unstable} unstable case{'s' if unstable > 1 else ''}</b> "
                     f"(shaded in the table): {esc(UNSTABLE_HINT.split(': ', 1)[1])}.</p>")
    return "".join(parts)


def anchor(scenario: str, params: tuple) -> str:
    return scenario + "".join(f"-{k}-{v}" for k, v in params)


def number_cell(value, text: str, below: str = "", classes: str = "n", raw: bool = False) -> str:
    """A right-aligned figure sorted by `value` (data-v), with an optional small line below it."""
    return (f"<td class='{classes}' data-v='{'' if value is None else value}'>{text if raw else esc(text)}"
            f"{below}</td>")


def table_section(rows: list[dict]) -> str:
    head = ("scenario", "conns", "runner, status", "req/s", "x best", "p99 ms", "CPU", "PSS MiB")
    out = ["<h2>Every case</h2><p class='meta'>Click a heading to sort.</p><div class='wrap'>"
           "<table class='sortable'><thead><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        classes = " ".join(c for c, on in (("failed", not row["passed"]), ("unstable", row["unstable"])) if on)
        median = row["throughput_rps_median"]
        half = row["throughput_interval_half_width"]
        ratio = row["ratio_best_to_this"]
        if ratio is None:
            ratio_text = ""
        elif row["best_runner"] == row["runner"]:
            ratio_text = "best"
        else:
            ratio_text = (f"{ratio:.2f}{'' if row['clear_difference'] else ' same'}<small>"
                          f"{row['ratio_low']:.2f}-{row['ratio_high']:.2f}</small>")
        spread = (f"<small>{row['throughput_rps_min']:,.0f}-{row['throughput_rps_max']:,.0f}"
                  f"{f', +-{half:.0%}' if half is not None else ''}</small>" if median is not None else "")
        short = scenario_short(row["scenario"], tuple(row["params"].items()))
        status = re.sub(r"UNSTABLE \(95% interval \+-\d+%\)", "unstable", row["status"])   # shaded, +- below
        cells = [f"<td class='case' title='{esc(row['title'])}'>{esc(short)}</td>",
                 number_cell(row["connections"], f"{row['connections']:,}"),
                 f"<td class='runner'>{esc(row['runner'])}<small>{esc(status)}</small></td>",
                 number_cell(median, f"{median:,.0f}" if median is not None else "-", spread, "n rps"),
                 number_cell(ratio, ratio_text, raw=True),
                 number_cell(row["latency_p99_ms"], f"{row['latency_p99_ms']:.2f}" if median is not None else ""),
                 number_cell(row["server_cpu_pct"], f"{row['server_cpu_pct']:.0f}%" if median is not None else "",
                             f"<small>client {row['loadgen_core_busy_pct']:.0f}%</small>" if median is not None
                             else ""),
                 number_cell(row["server_pss_bytes"], f"{row['server_pss_bytes'] / (1 << 20):.1f}"
                             if row["server_pss_bytes"] else "")]
        out.append(f"<tr class='{classes}'>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div><dl>")
    out += [f"<dt>{esc(term)}</dt><dd>{esc(text)}</dd>" for term, text in READING]
    out.append("</dl>")
    return "".join(out)


def chart_section(charts: list[tuple]) -> str:
    """charts: [(scenario, params, caption, path)], drawn in that order under a heading per scenario."""
    out = ["<h2>Charts</h2><p class='meta'>Each image links to its full-size PNG.</p>"]
    previous = None
    for scenario, params, caption, path in charts:
        if (scenario, params) != previous:
            out.append(f"<h3>{esc(scenario_title(scenario, params))}</h3>")
            previous = (scenario, params)
        data = base64.b64encode(Path(path).read_bytes()).decode()
        out.append(f"<figure><a href='{esc(Path(path).name)}'><img alt='{esc(caption)}' "
                   f"src='data:image/png;base64,{data}'></a><figcaption>{esc(caption)} "
                   f"(<a href='{esc(Path(path).name)}'>full size</a>)</figcaption></figure>")
    return "".join(out)


def render_page(result_name: str, machine: str, command: str, records: list[dict], charts: list[tuple],
                sections: list[tuple] = ()) -> str:
    """The whole index.html; sections: (heading, preformatted text) shown after the table (capacity, interop)."""
    rows = case_rows(records)
    extra = "".join(f"<h2>{esc(title)}</h2><pre>{esc(text)}</pre>" for title, text in sections)
    return ("<!doctype html><html lang='en'><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>concbench report: {esc(result_name)}</title><style>{STYLE}</style><body>"
            f"<h1>concbench report: {esc(result_name)}</h1><p class='meta'>{esc(machine)}</p>"
            f"<p class='meta'>Command: <code>{esc(command)}</code></p>"
            + verdict_section(records, rows) + table_section(rows) + extra + chart_section(charts)
            + f"<script>{SORT_SCRIPT}</script></body></html>")
