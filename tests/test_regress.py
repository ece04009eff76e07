"""`make regress`'s decision (concbench.studies.regress): instruction counts decide, inconclusive fails unless allowed and
names its rows, a missing valgrind or baseline is one line. No benchmark is run here."""
from __future__ import annotations

import json
import stat

from concbench import cli
from concbench.studies import regress


def report_with(tmp_path, rows):
    path = tmp_path / "cmp.json"
    path.write_text(json.dumps({"rows": rows}))
    return path


def test_inconclusive_fails_and_names_the_rows(tmp_path):
    path = report_with(tmp_path, [
        {"case": "echo size=64 c=100 twisted", "metric": "throughput", "verdict": "too noisy",
         "note": "the interval straddles the regression threshold"},
        {"case": "echo size=64 c=1 asyncio", "metric": "p50", "verdict": "no clear change", "note": ""}])
    code, lines = regress.decide("wall clock", 2, path, allow_inconclusive=False)
    assert code == regress.EXIT_FAIL
    assert "echo size=64 c=100 twisted throughput: too noisy (the interval straddles the regression threshold)" \
        in "\n".join(lines)
    assert "asyncio" not in "\n".join(lines) and "ALLOW_INCONCLUSIVE=1" in lines[-1]


def test_inconclusive_passes_when_allowed(tmp_path):
    path = report_with(tmp_path, [{"case": "c", "metric": "p99", "verdict": "too noisy", "note": "n"}])
    code, lines = regress.decide("wall clock", 2, path, allow_inconclusive=True)
    assert code == regress.EXIT_PASS and "allowed" in lines[-1]


def test_regression_and_bad_input_fail_whatever_is_allowed():
    assert regress.decide("instructions", 1, None, True)[0] == regress.EXIT_FAIL
    assert regress.decide("instructions", 3, None, True)[0] == regress.EXIT_BAD_INPUT
    assert regress.decide("instructions", 0, None, False)[0] == regress.EXIT_PASS


def test_without_valgrind_the_instruction_part_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONCBENCH_VALGRIND", str(tmp_path / "no-valgrind"))
    assert cli.main(["regress", "--skip-wall", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "instructions: skipped: valgrind not found" in out and "make regress: pass" in out


def test_a_missing_instruction_baseline_is_bad_input(tmp_path, monkeypatch, capsys):
    for name, text in (("valgrind", "echo valgrind-3.19.0"), ("callgrind_control", "exit 0")):
        script = tmp_path / name
        script.write_text(f"#!/bin/sh\n{text}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CONCBENCH_VALGRIND", str(tmp_path / "valgrind"))
    monkeypatch.setenv("CONCBENCH_CALLGRIND_CONTROL", str(tmp_path / "callgrind_control"))
    code = cli.main(["regress", "--skip-wall", "--baseline-instructions", str(tmp_path / "none.json"),
                         "--output-dir", str(tmp_path)])
    assert code == regress.EXIT_BAD_INPUT
    assert "make baseline-instructions" in capsys.readouterr().out
