"""The interop chart and table: drawn only when interop runners were measured; every figure comes from the
result file (synthetic records here), a failed runner is marked FAILED, ratios are against the family's first
loop and the selectors floor."""
from __future__ import annotations

from concbench.analysis.interop import draw_interop, interop_table
from concbench.analysis.report import write_report
from concbench.studies.orchestrate import Case
from concbench.studies.profiles import PROFILES
from concbench.results.format import RunContext, load_measurements, write_suite

from .test_results import failed_record, ok_record

THROUGHPUT = {"asyncio": 20000.0, "uvloop": 40000.0, "twisted": 10000.0, "twisted-asyncio": 5000.0,
              "twisted-uvloop": 8000.0, "selectors": 50000.0}


def interop_result(tmp_path, failing=("tornado-uvloop",)):
    runners = [*THROUGHPUT, *failing]
    context = RunContext.collect(PROFILES["quick"], runners, ["echo", "http"], (0,), (1,), {}, ["concbench", "run"])
    measurements = []
    for scenario, params in (("echo", (("size", 64),)), ("http", ())):
        for runner, rps in THROUGHPUT.items():
            measurements += [(Case(scenario, params, 100, runner), ok_record(rep, rps)) for rep in range(3)]
        for runner in failing:
            measurements += [(Case(scenario, params, 100, runner), failed_record(rep)) for rep in range(3)]
    path = tmp_path / "interop.json"
    write_suite(path, context, measurements)
    return path


def test_the_table_gives_each_loop_against_its_first_and_the_floor(tmp_path):
    records = load_measurements(interop_result(tmp_path))
    text = interop_table(records)
    assert "interop: echo (size=64), 100 connections" in text and "interop: http, 100 connections" in text
    rows = {line[21:37].strip(): line for line in text.splitlines() if line.startswith("  ") and "family" not in line}
    assert "0.50x" in rows["twisted-asyncio"] and "0.10x" in rows["twisted-asyncio"]    # vs twisted, vs floor
    assert "2.00x" in rows["uvloop"] and "0.80x" in rows["uvloop"]
    assert "FAILED" in rows["tornado-uvloop"]


def test_the_chart_is_drawn_only_with_interop_runners(tmp_path):
    records = load_measurements(interop_result(tmp_path))
    assert draw_interop(records, tmp_path / "interop.png")
    assert (tmp_path / "interop.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plain = [r for r in records if r["runner"] in ("asyncio", "uvloop")]
    assert not draw_interop(plain, tmp_path / "none.png") and not (tmp_path / "none.png").exists()
    assert interop_table(plain) == ""


def test_the_report_includes_the_interop_chart_and_table(tmp_path):
    paths = write_report(interop_result(tmp_path), tmp_path / "reports")
    assert any(p.name == "interop.png" for p in paths)
    assert "interop: http" in paths[1].read_text()
