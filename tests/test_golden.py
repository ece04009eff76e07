"""Old result files keep loading: every result kind of format 1, as an old concbench wrote it (tests/golden/).

Each file is read, shown, reported and compared with itself by the current code; nothing may be refused or crash.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from concbench.results.format import FORMAT_KEY, load_measurements

GOLDEN = sorted((Path(__file__).parent / "golden" / "format1").glob("*.json"))
KINDS = {"run-closed", "run-open", "run-slow", "run-backend", "memory", "backpressure"}


def test_every_result_kind_has_a_golden_file():
    assert {path.stem for path in GOLDEN} == KINDS


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_a_format_1_file_loads_with_its_identity(path):
    records = load_measurements(path)
    assert records
    for record in records:
        assert record[FORMAT_KEY] == 1
        assert record["status"] == "ok"
        assert record["runner"] and record["scenario"]


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_a_format_1_file_is_shown_and_reported(path, tmp_path):
    show = subprocess.run([sys.executable, "-m", "concbench", "show", str(path)], capture_output=True, text=True)
    assert show.returncode == 0, show.stderr
    assert "asyncio" in show.stdout
    report = subprocess.run([sys.executable, "-m", "concbench", "report", str(path), "--output", str(tmp_path)],
                            capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    assert list(tmp_path.rglob("*.html")), "no HTML page written"


@pytest.mark.parametrize("stem", ["run-closed", "run-open", "run-slow", "run-backend"])
def test_a_format_1_run_file_compared_with_itself_is_no_regression(stem):
    path = Path(__file__).parent / "golden" / "format1" / f"{stem}.json"
    done = subprocess.run([sys.executable, "-m", "concbench", "compare", str(path), str(path)],
                          capture_output=True, text=True)
    assert done.returncode not in (1, 3), done.stdout + done.stderr     # neither a regression nor bad input
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("stem", ["memory", "backpressure"])
def test_compare_refuses_a_memory_or_backpressure_file_in_one_line(stem):
    path = Path(__file__).parent / "golden" / "format1" / f"{stem}.json"
    done = subprocess.run([sys.executable, "-m", "concbench", "compare", str(path), str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert "compare reads `concbench run` results" in done.stderr
