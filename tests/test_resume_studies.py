"""Every study of the pipeline keeps what it measured when a stop signal comes, leaves nothing running and (memory,
backpressure: like run, tests/test_run_file.py) resumes from its file with the same plan only; `ab` stops the child
`run` under way and keeps the rounds already measured. Small plans: one runner, tiny levels."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from concbench import cli
from concbench.harness import envs, lifecycle
from concbench.results.format import load_measurements
from concbench.studies import ab

from .test_compare import record, write_result
from .test_run_file import processes_with

REPOSITORY = Path(__file__).resolve().parent.parent
MIB = 1 << 20
STUDIES = {
    "memory": ["memory", "--runners", "asyncio", "--levels", "5", "10", "--warm", "1", "--repetitions", "3",
               "--no-chart"],
    "backpressure": ["backpressure", "--runners", "asyncio", "--slow", "0", "--fast", "1", "--size", str(MIB),
                     "--repetitions", "3", "--warmup", "0.05", "--window", "0.2", "--no-chart"],
}


def repetitions(records) -> list[int]:
    return sorted(int(r["repetition"]) for r in records)


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_an_interrupted_study_keeps_its_measurements_leaves_nothing_running_and_resumes(tmp_path, study):
    out = tmp_path / f"{study}.json"
    marker = f"CONCBENCH_TEST_MARK={uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY), marker.split("=")[0]: marker.split("=")[1]}
    command = [sys.executable, "-m", "concbench", *STUDIES[study]]
    running = subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL, cwd=tmp_path, env=env)
    for _ in range(12000):                    # until the first measurement is in the file (bounded: 120 s)
        if out.exists() or running.poll() is not None:
            break
        time.sleep(0.01)
    running.send_signal(signal.SIGTERM)
    _, stderr = running.communicate(timeout=60)
    assert running.returncode == 128 + signal.SIGTERM, stderr
    assert f"results: {out}" in stderr and f"concbench {study} --resume {out}" in stderr
    assert processes_with(marker) == []       # the server (and holder, or stream client) under way included
    records = load_measurements(out)
    kept = repetitions(records)
    assert kept and kept == list(range(len(kept))) and len(kept) < 3
    assert {r["run_state"] for r in records} == {f"interrupted after {len(kept)} of 3 (SIGTERM)"}
    shown = subprocess.run([sys.executable, "-m", "concbench", "show", str(out)], capture_output=True, text=True,
                           timeout=60, env=env)
    assert f"concbench {study} --resume {out} measures the rest" in shown.stdout

    other = subprocess.run([*command, "--repetitions", "4", "--resume", str(out)], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path, env=env)
    assert other.returncode == 2 and "different plan" in other.stderr and "Traceback" not in other.stderr
    done = subprocess.run([sys.executable, "-m", "concbench", study, "--resume", str(out), "--no-chart"],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, cwd=tmp_path,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert f"resuming {out} (interrupted after {len(kept)} of 3 (SIGTERM)): {len(kept)} of 3 measured" in done.stdout
    records = load_measurements(out)
    assert repetitions(records) == [0, 1, 2]
    assert {r["run_state"] for r in records} == {"complete"}
    assert processes_with(marker) == []


def test_ab_stops_the_run_under_way_and_keeps_the_rounds_measured(tmp_path, monkeypatch, capsys):
    """A signal during B's first round: that child `run` is stopped, A's round is merged into a.json marked
    interrupted, the path is printed, and ab exits 128 + signal (no comparison)."""
    monkeypatch.setenv("CONCBENCH_ENV_CACHE", str(tmp_path / "cache"))
    started = []

    def ensure(spec, log, installer=None):
        identity = {"implementation": "CPython", "version": "3.11.7", "real_path": sys.executable}
        return tmp_path / f"env-{spec.requirements[0]}", identity, False

    def run_revision(tree, output, options, log, python=None):
        if not started:
            started.append(None)
            write_result(output, {"asyncio": [record(0, 20_000.0)]})
            return
        child = lifecycle.spawn([sys.executable, "-c", "import time; time.sleep(60)"], owns_group=True)
        started.append(child)
        os.kill(os.getpid(), signal.SIGTERM)         # the signal arrives while B's run is under way
        child.wait()

    monkeypatch.setattr(envs, "ensure", ensure)
    monkeypatch.setattr(ab, "run_revision", run_revision)
    out = tmp_path / "out"
    code = cli.main(["ab", "--a-pip", "twisted==24.3.0", "--b-pip", "twisted==24.10.0", "--rounds", "2",
                     "--runners", "asyncio", "--scenarios", "echo", "--output-dir", str(out)])
    seen = capsys.readouterr()
    assert code == 128 + signal.SIGTERM
    assert started[1].returncode is not None and lifecycle.live_children() == []    # the child run was stopped
    assert f"concbench ab: interrupted after 1 of 4 runs; results: {out}" in seen.err
    records = load_measurements(out / "a.json")
    assert {r["ab_variant"] for r in records} == {"A"}
    assert {r["run_state"] for r in records} == {"interrupted after 1 of 4 (SIGTERM)"}
    assert not (out / "b.json").exists() and "|" not in seen.out          # nothing compared
