"""The suite's plan (cases, rotation) and a real end-to-end `concbench run`, starvation included."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from concbench.studies.orchestrate import plan_cases, rotated, schedule
from concbench.studies.profiles import PROFILES
from concbench.results.format import load_measurements

REPOSITORY = Path(__file__).resolve().parent.parent


def test_runner_order_rotates_between_repetitions():
    runners = ["a", "b", "c"]
    assert rotated(runners, 0) == ["a", "b", "c"]
    assert rotated(runners, 1) == ["b", "c", "a"]
    assert rotated(runners, 4) == ["b", "c", "a"]


def test_schedule_is_repetition_major_and_rotated():
    cases = plan_cases(["echo"], ["threads", "asyncio", "gevent"], PROFILES["quick"])
    order = schedule(cases, ["threads", "asyncio", "gevent"], 3)
    assert len(order) == 3 * len(cases)
    assert [rep for rep, _ in order] == sorted(rep for rep, _ in order)
    first_level = [[c.runner for rep, c in order if rep == r and c.connections == 1] for r in range(3)]
    assert first_level == [["threads", "asyncio", "gevent"], ["asyncio", "gevent", "threads"],
                           ["gevent", "threads", "asyncio"]]


def test_cases_cover_sizes_levels_and_skip_inapplicable_pairs():
    cases = plan_cases(["echo"], ["asyncio", "reference-c"], PROFILES["full"])
    assert {c.params for c in cases} == {(("size", 64),), (("size", 1024),), (("size", 16384),)}
    assert {c.connections for c in cases} == {1, 10, 100, 1000}
    assert len(cases) == 3 * 4 * 2


def test_default_profile_rules():
    default = PROFILES["default"]
    assert max(default.levels("echo")) == 1000 and max(default.levels("backend")) >= 2000   # C1K; the backend chart
    assert default.levels("http") != default.connections                                  # per-scenario levels
    assert default.repetitions >= 3 and PROFILES["full"].repetitions >= 3 and PROFILES["quick"].repetitions >= 3


def test_end_to_end_run_reports_starvation_without_hanging(tmp_path):
    """processes with one worker and three connections: two starve; the run finishes and says so."""
    out = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "concbench", "run", "--scenarios", "echo", "--runners", "asyncio", "processes",
         "--connections", "3",
         "--repetitions", "3", "--warmup", "0.1", "--duration", "0.3", "--timeout", "0.5",
         "-O", "processes:workers=1", "-o", str(out)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPOSITORY)})   # its reports/ lands in tmp_path
    assert done.returncode == 0, done.stderr
    assert any((tmp_path / "reports" / "run").glob("*.png"))
    assert "[  1/6" in done.stdout and "left" in done.stdout          # visible progress
    records = load_measurements(out)
    assert len(records) == 6
    asyncio_runs = [r for r in records if r["runner"] == "asyncio"]
    starving = [r for r in records if r["runner"] == "processes"]
    assert all(r["status"] == "ok" and r["requests"] > 0 for r in asyncio_runs)
    assert all(r["status"] == "failed" and r["starved_connections"] == 2 for r in starving)
    assert all(r["options_processes"] == "workers=1" for r in records)
    assert sorted({r["repetition"] for r in records}) == [0, 1, 2]
    assert "3/3 ok" in done.stdout and "2/3 starved" in done.stdout


def test_rotation_is_among_the_runners_a_scenario_measures():
    from concbench import registry
    runners = registry.default_runners()                       # includes http-only own-stack variants
    cases = plan_cases(["echo"], runners, PROFILES["quick"])
    measured = sorted({c.runner for c in cases}, key=runners.index)
    order = schedule(cases, runners, len(measured))
    leaders = [next(c.runner for rep, c in order if rep == r) for r in range(len(measured))]
    assert sorted(leaders) == sorted(measured)                 # each measured runner leads exactly once
