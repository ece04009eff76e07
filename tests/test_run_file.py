"""The result file of a run: written after every measurement with its state, kept whole on an interrupt, resumed
with the same plan only; runs carry pyperf's duration; files honour the umask."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyperf
import pytest

from concbench.results import run_file
from concbench.studies.orchestrate import Case, schedule
from concbench.studies.profiles import PROFILES
from concbench.results.format import RunContext, load_measurements, write_suite

from .test_results import failed_record, ok_record

REPOSITORY = Path(__file__).resolve().parent.parent
CASE = Case("echo", (("size", 64),), 10, "asyncio")


def context() -> RunContext:
    ctx = RunContext.collect(PROFILES["quick"], ["asyncio"], ["echo"], (0,), (1,), {}, ["concbench", "run"])
    ctx.metadata.update(plan_id="abc", planned_measurements=3, run_args='["--quick"]')
    return ctx


def with_slot(record: dict, slot: int) -> dict:
    return {**record, "slot": run_file.slot_of(slot, "echo/size=64/c=10/asyncio")}


def slots(records) -> list[int]:
    return sorted(int(r["slot"].split(":")[0]) for r in records)


def test_the_file_is_rewritten_after_every_measurement_with_its_state(tmp_path):
    path = tmp_path / "r.json"
    writer = run_file.RunFile(path, context(), 3)
    writer.add(0, [(CASE, with_slot(ok_record(0, 20000.0), 0))])
    records = load_measurements(path)
    assert [r["run_state"] for r in records] == ["running: 1 of 3 measured"]
    writer.add(1, [(CASE, with_slot(ok_record(1, 21000.0), 1))])
    writer.finish("interrupted after 2 of 3 (SIGTERM)")
    records = load_measurements(path)
    assert {r["run_state"] for r in records} == {"interrupted after 2 of 3 (SIGTERM)"}
    assert slots(records) == [0, 1]


def test_resuming_keeps_the_earlier_runs_and_adds_the_missing(tmp_path):
    path = tmp_path / "r.json"
    first = run_file.RunFile(path, context(), 3)
    first.add(0, [(CASE, with_slot(ok_record(0, 20000.0), 0))])
    first.add(1, [(CASE, with_slot(failed_record(1), 1))])
    first.finish("interrupted after 2 of 3 (SIGINT)")
    previous = run_file.read_previous(path)
    assert previous.done == {run_file.slot_of(i, "echo/size=64/c=10/asyncio") for i in (0, 1)}
    assert previous.plan_id == "abc" and previous.run_args == ["--quick"]
    assert [case for case, _ in previous.pairs] == [CASE, CASE]
    assert previous.state == "interrupted after 2 of 3 (SIGINT)" and previous.failed == 1
    second = run_file.RunFile(path, context(), 3, previous)
    second.add(2, [(CASE, with_slot(ok_record(2, 22000.0), 2))])
    second.finish(run_file.COMPLETE)
    records = load_measurements(path)
    assert slots(records) == [0, 1, 2]
    assert {r["run_state"] for r in records} == {"complete"}
    assert sorted(r["status"] for r in records) == ["failed", "ok", "ok"]


def test_a_file_without_a_plan_cannot_be_resumed(tmp_path):
    from concbench.errors import UsageError
    path = tmp_path / "old.json"
    write_suite(path, RunContext.collect(PROFILES["quick"], ["asyncio"], ["echo"], (0,), (1,), {}, ["concbench"]),
                [(CASE, ok_record(0, 1.0))])
    with pytest.raises(UsageError, match="carries no plan"):
        run_file.read_previous(path)


def test_output_options_are_not_part_of_the_plan():
    argv = ["run", "--quick", "-o", "x.json", "--force", "--resume=y.json", "--no-report", "--runners", "asyncio",
            "--report-dir", "r"]
    assert run_file.strip_output_options(argv) == ["--quick", "--runners", "asyncio"]


def test_the_plan_identity_changes_with_what_is_measured():
    order = schedule([CASE], ["asyncio"], 3)
    same = run_file.plan_identity(order, PROFILES["quick"], {}, (0,), (1,), False)
    assert same == run_file.plan_identity(schedule([CASE], ["asyncio"], 3), PROFILES["quick"], {}, (0,), (1,), False)
    assert same != run_file.plan_identity(schedule([CASE], ["asyncio"], 2), PROFILES["quick"], {}, (0,), (1,), False)
    assert same != run_file.plan_identity(order, PROFILES["default"], {}, (0,), (1,), False)
    assert same != run_file.plan_identity(order, PROFILES["quick"], {"asyncio": {"x": "1"}}, (0,), (1,), False)


def test_only_a_broken_runner_in_every_repetition_counts_as_failed():
    def rec(kinds: str, status="failed", name="echo/c=1/threads/measurement"):
        return {"status": status, "error_kinds": kinds, "name": name, "first_error": "server: bad option"}
    broken = [rec("harness=1"), rec("harness=1")]
    assert run_file.failed_every_repetition(broken) == ["echo/c=1/threads: server: bad option"]
    assert run_file.failed_every_repetition([rec("harness=1"), rec("", "ok")]) == []
    assert run_file.failed_every_repetition([rec("timeout=7"), rec("timeout=3")]) == []     # a measured limit


def test_runs_carry_duration_so_pyperf_totals_are_seconds(tmp_path):
    path = tmp_path / "r.json"
    write_suite(path, context(), [(CASE, ok_record(rep, 20000.0)) for rep in range(3)])
    suite = pyperf.BenchmarkSuite.load(str(path))
    for bench in suite.get_benchmarks():            # byte-valued benchmarks (server-rss) are not summed as seconds
        measured = bench.get_name().endswith("/measurement")
        assert bench.get_total_duration() == pytest.approx(3 * 2.5 if measured else 0.0)
    assert suite.get_total_duration() == pytest.approx(3 * 2.5)     # each measurement's wall time once


def test_result_files_honour_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_suite(tmp_path / "r.json", context(), [(CASE, ok_record(0, 20000.0))])
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o640


def processes_with(marker: str) -> list[int]:
    """Processes whose environment carries marker (children of the run, in whatever session they are)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


# SIGINT and SIGHUP take the same path (test_lifecycle); tools/interrupt_check.py also sends SIGINT to the whole
# process group, as Ctrl-C does.
@pytest.mark.parametrize("signum", [signal.SIGTERM])
def test_an_interrupted_run_keeps_its_measurements_leaves_nothing_running_and_resumes(tmp_path, signum):
    out = tmp_path / "run.json"
    marker = f"CONCBENCH_TEST_MARK={uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY), marker.split("=")[0]: marker.split("=")[1]}
    command = [sys.executable, "-m", "concbench", "run", "--scenarios", "echo", "--runners", "asyncio",
               "--connections", "1", "--repetitions", "3", "--warmup", "0.05", "--duration", "0.2", "--no-report"]
    run = subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           stdin=subprocess.DEVNULL, cwd=tmp_path, env=env)
    for _ in range(6000):                     # until the first measurement is in the file (bounded: 60 s)
        if out.exists() or run.poll() is not None:
            break
        time.sleep(0.01)
    run.send_signal(signum)                   # to the run process alone (as kill, timeout and CI send)
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + signum, stderr
    assert f"results: {out}" in stderr and f"--resume {out}" in stderr
    assert processes_with(marker) == []       # the server of the measurement under way included
    records = load_measurements(out)
    kept = slots(records)
    assert kept and kept == list(range(len(kept))) and len(kept) < 3
    assert {r["run_state"] for r in records} == {
        f"interrupted after {len(kept)} of 3 ({signal.Signals(signum).name})"}
    done = subprocess.run([sys.executable, "-m", "concbench", "run", "--resume", str(out), "--no-report"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=tmp_path,
                          env=env)
    assert done.returncode == 0, done.stderr
    records = load_measurements(out)
    assert slots(records) == [0, 1, 2]
    assert {r["run_state"] for r in records} == {"complete"}
    assert processes_with(marker) == []
    other = subprocess.run([sys.executable, "-m", "concbench", "run", "--resume", str(out), "--repetitions", "4"],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path, env=env)
    assert other.returncode == 2 and "Traceback" not in other.stderr
    errors = [line for line in other.stderr.splitlines() if line.startswith("concbench: error")]
    assert len(errors) == 1 and "different plan" in errors[0]


def fake_run(monkeypatch, tmp_path, measure_fake, capsys):
    """cmd_run in this process with `measure` replaced (no server, no load): the loop, the file and exit codes."""
    from concbench import cli, fairness
    from concbench.studies import orchestrate
    monkeypatch.setattr(fairness, "pin_to_cpus", lambda cpus: None)
    monkeypatch.setattr(orchestrate, "measure", measure_fake)
    out = tmp_path / "run.json"
    code = cli.main(["run", "--scenarios", "echo", "--runners", "asyncio", "threads", "--connections", "1",
                     "--repetitions", "2", "--no-report", "-o", str(out)])
    return code, out, capsys.readouterr()


def test_a_runner_broken_in_every_repetition_exits_4_and_is_named(monkeypatch, tmp_path, capsys):
    from concbench.studies.orchestrate import failed_record

    def measure(case, *args):
        return failed_record(case, "server: bad stack size") if case.runner == "threads" else ok_record(0, 9000.0)
    code, out, seen = fake_run(monkeypatch, tmp_path, measure, capsys)
    assert code == 4
    assert "echo/size=64/c=1/threads: server: bad stack size" in seen.err and "asyncio" not in seen.err
    assert {r["run_state"] for r in load_measurements(out)} == {"complete"}


def test_a_failed_write_during_the_run_exits_5_and_keeps_the_last_copy(monkeypatch, tmp_path, capsys):
    import errno
    calls = []
    real_write = run_file.RunFile.write

    def write(self, state):
        calls.append(state)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, state)
    monkeypatch.setattr(run_file.RunFile, "write", write)
    code, out, seen = fake_run(monkeypatch, tmp_path, lambda case, *a: ok_record(0, 9000.0), capsys)
    assert code == 5 and "No space left on device" in seen.err
    assert len(load_measurements(out)) == 1          # the copy written after the first measurement


def test_a_harness_crash_keeps_the_measurements_and_marks_the_file(monkeypatch, tmp_path, capsys):
    done = []

    def measure(case, *args):
        if len(done) == 3:
            raise RuntimeError("a bug")
        done.append(case)
        return ok_record(0, 9000.0)
    with pytest.raises(RuntimeError, match="a bug"):
        fake_run(monkeypatch, tmp_path, measure, capsys)
    records = load_measurements(tmp_path / "run.json")
    assert len(records) == 3 and {r["run_state"] for r in records} == {"crashed after 3 of 4 (RuntimeError)"}
