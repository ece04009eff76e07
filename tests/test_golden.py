"""Old result files keep loading: every result kind of format 1, as an old concbench wrote it (tests/golden/).

Each file is read, shown, reported (or refused a report in one line, for a kind without charts) and compared
with itself (or refused in one line, for a kind compare does not read) by the current code; nothing may crash.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from concbench.analysis.views import VIEWS
from concbench.results.format import FORMAT_KEY, load_measurements
from concbench.results.kinds import KINDS
from concbench.results.summary_file import kind_of_file, read_summary

FOLDER = Path(__file__).parent / "golden" / "format1"
GOLDEN = sorted(FOLDER.glob("*.json"))
KIND_OF_GOLDEN = {"run-closed": "run", "run-open": "run", "run-slow": "run", "run-backend": "run",
                  "instructions": "instructions", "memory": "memory", "backpressure": "backpressure",
                  "ceiling": "ceiling", "clients": "clients"}


def concbench(*args):
    return subprocess.run([sys.executable, "-m", "concbench", *map(str, args)], capture_output=True, text=True)


def test_every_result_kind_has_a_golden_file_of_its_kind():
    assert {path.stem for path in GOLDEN} == set(KIND_OF_GOLDEN)
    assert {kind_of_file(path).name for path in GOLDEN} == set(KINDS)
    for path in GOLDEN:
        assert kind_of_file(path).name == KIND_OF_GOLDEN[path.stem], path.stem


@pytest.mark.parametrize("path", [p for p in GOLDEN if KINDS[KIND_OF_GOLDEN[p.stem]].layout != "summary"],
                         ids=lambda p: p.stem)
def test_a_format_1_file_loads_with_its_identity(path):
    records = load_measurements(path)
    assert records
    for record in records:
        assert record[FORMAT_KEY] == 1
        assert record["status"] == "ok"
        assert record["runner"] and record["scenario"]


@pytest.mark.parametrize("path", [p for p in GOLDEN if KINDS[KIND_OF_GOLDEN[p.stem]].layout == "summary"],
                         ids=lambda p: p.stem)
def test_a_summary_file_reads_as_its_kind_and_is_no_measurement_file(path):
    kind, summary = read_summary(path)
    assert kind.name == KIND_OF_GOLDEN[path.stem] and set(summary) <= set(kind.keys)
    with pytest.raises(Exception, match="summary"):
        load_measurements(path)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_a_format_1_file_is_shown_and_reported(path, tmp_path):
    show = concbench("show", path)
    assert show.returncode == 0, show.stderr
    assert ("c-epoll" if path.stem == "ceiling" else "asyncio") in show.stdout     # a client, or a runner measured
    report = concbench("report", path, "--output", tmp_path)
    assert "Traceback" not in report.stderr
    if VIEWS[KIND_OF_GOLDEN[path.stem]].report is None:
        assert report.returncode == 2 and f"concbench show {path}" in report.stderr
        assert not list(tmp_path.rglob("*.html"))
    else:
        assert report.returncode == 0, report.stderr
        assert list(tmp_path.rglob("*.html")), "no HTML page written"


@pytest.mark.parametrize("stem", [s for s, kind in KIND_OF_GOLDEN.items() if KINDS[kind].comparable])
def test_a_comparable_format_1_file_compared_with_itself_is_no_regression(stem):
    done = concbench("compare", FOLDER / f"{stem}.json", FOLDER / f"{stem}.json")
    assert done.returncode not in (1, 3), done.stdout + done.stderr     # neither a regression nor bad input
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("stem", [s for s, kind in KIND_OF_GOLDEN.items() if not KINDS[kind].comparable])
def test_compare_refuses_a_file_of_another_kind_in_one_line(stem):
    path = FOLDER / f"{stem}.json"
    done = concbench("compare", path, path)
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert ("compare reads `concbench run` results" in done.stderr if KINDS[KIND_OF_GOLDEN[stem]].layout != "summary"
            else "summary" in done.stderr)
