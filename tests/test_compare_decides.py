"""compare that decides: a file compared with itself is "no change" (exit 0) however noisy it is, and instruction
counts have their own 1% threshold. Synthetic figures with fixed seeds; nothing is timed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from concbench.analysis.compare import METRICS, NO_CHANGE, NO_CLEAR_CHANGE, REGRESSION, compare_records
from tests.test_compare import concbench, record, write_result


def instruction_records(per_request: list[float], runner: str = "asyncio") -> list[dict]:
    return [{"status": "ok", "repetition": i, "scenario": "echo", "param_size": 64, "offered_connections": 1,
             "runner": runner, "measure": "instructions", "instructions_per_request": value}
            for i, value in enumerate(per_request)]


def test_a_noisy_file_compared_with_itself_is_no_change(tmp_path):
    rng = np.random.default_rng(3)
    noisy = [record(i, rps, p99=p99) for i, (rps, p99) in
             enumerate(zip(20_000 * (1 + 0.25 * rng.standard_normal(5)), 5e-4 * (1 + 0.4 * rng.standard_normal(5))))]
    path = write_result(tmp_path / "noisy.json", {"twisted": noisy, "gevent": noisy[::-1]})
    done = concbench("compare", path, path, "--json", str(tmp_path / "self.json"))
    assert done.returncode == 0, done.stdout
    rows = json.loads((tmp_path / "self.json").read_text())["rows"]
    assert rows and {row["verdict"] for row in rows} == {NO_CHANGE}
    assert done.stdout.strip().splitlines()[-1].endswith("exit 0 (pass)")


def test_instructions_have_a_one_percent_threshold():
    assert METRICS["instructions"].threshold_pct == 1.0 and not METRICS["instructions"].higher_is_better


@pytest.mark.parametrize("change, verdict, code", [(1.02, REGRESSION, 1), (1.003, NO_CLEAR_CHANGE, 0)])
def test_an_instruction_change_is_judged_against_one_percent(change, verdict, code):
    base = instruction_records([24_139.0, 24_140.5, 24_138.2])
    head = instruction_records([v * change for v in (24_139.3, 24_140.1, 24_138.9)])
    report = compare_records(base, head)
    row, = [r for r in report["rows"] if r["metric"] == "instructions"]
    assert row["verdict"] == verdict and report["exit_code"] == code
    assert row["ratio"] == pytest.approx(change, rel=1e-4)
