#!/usr/bin/env python3
"""Interrupt check: `concbench run` interrupted at random moments (SIGINT to its process group, as Ctrl-C sends,
and SIGTERM to the run process alone, as kill/timeout/CI send, alternately); each must exit 130/143, leave nothing
running, and leave a loadable file marked `interrupted after k of n` holding k measurements; `run --resume` must
then complete it to the same set of cases and repetitions as an uninterrupted run of the same arguments (the extra
rounds of repetitions until stable follow the figures, so only the fixed rounds must match).

  python tools/interrupt_check.py --runs 5 -- --quick --runners asyncio threads --scenarios echo   # a few minutes
  python tools/interrupt_check.py --runs 5                                                       # the default suite
The seed is printed (and --seed repeats a sequence of moments). Exit 0 when every check passes.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))
sys.path.insert(0, str(REPOSITORY / "tools"))

from soak import MARK, marked_pids  # noqa: E402

from concbench.results.format import NotAResult, load_measurements  # noqa: E402


def cases(path) -> set[tuple[str, int]]:
    """(benchmark name, repetition) of every measurement in a result file."""
    return {(r["name"], int(r["repetition"])) for r in load_measurements(path)}


def same_plan(got: set, expected: set) -> str:
    """'' when `got` measured the same cases as `expected`, each in the same fixed rounds and with no gap;
    repetitions until stable may add different extra rounds (they follow the figures), so those may differ."""
    names = {name for name, _ in expected}
    if {name for name, _ in got} != names:
        return f"cases differ: missing {sorted(names - {n for n, _ in got})[:3]}, extra {sorted({n for n, _ in got} - names)[:3]}"
    minimum = min(sum(1 for n, _ in expected if n == name) for name in names)
    for name in names:
        reps = sorted(rep for n, rep in got if n == name)
        if reps != list(range(len(reps))) or len(reps) < minimum:
            return f"{name}: repetitions {reps}, expected 0..{minimum - 1} at least, without gaps"
    return ""


def run(python, run_args, output, mark, extra=()) -> subprocess.Popen:
    return subprocess.Popen([python, "-m", "concbench", "run", *run_args, *extra, "--no-report", "-o", str(output)]
                            if output else [python, "-m", "concbench", "run", *extra, "--no-report"],
                            cwd=REPOSITORY, env={**os.environ, MARK: mark}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_gone(mark: str, timeout_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while marked_pids(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    return marked_pids(mark)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("run_args", nargs="*", help="arguments for concbench run (after --); default: the default suite")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="concbench-interrupt-"))
    print(f"interrupt check: {args.runs} interrupted runs of concbench run {' '.join(args.run_args)} (seed {seed}); "
          f"files in {folder}", flush=True)
    mark = uuid.uuid4().hex
    started = time.monotonic()
    reference = run(args.python, args.run_args, folder / "reference.json", mark)
    _, stderr = reference.communicate()
    length = time.monotonic() - started
    if reference.returncode != 0:
        print(f"the uninterrupted reference run failed (exit {reference.returncode}): {stderr.strip()[-500:]}")
        return 1
    expected = cases(folder / "reference.json")
    print(f"reference: {len(expected)} measurements in {length:.0f} s", flush=True)
    failures = []
    i = attempts = 0
    while i < args.runs and attempts < 3 * args.runs:
        attempts += 1
        i += 1
        signum = signal.SIGINT if i % 2 else signal.SIGTERM
        at = rng.uniform(0.05, 0.85) * length
        output, mark = folder / f"run-{i}.json", uuid.uuid4().hex
        proc = run(args.python, args.run_args, output, mark)
        time.sleep(at)
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signal.SIGINT)          # Ctrl-C: the job's whole process group
        else:
            proc.send_signal(signal.SIGTERM)            # kill, timeout, CI: the run process alone
        _, stderr = proc.communicate()
        problems = []
        left = wait_gone(mark)
        if left:
            problems.append(f"left running: pids {left}")
        name = signal.Signals(signum).name
        if proc.returncode == 0:
            print(f"run {i}: {name} at {at:.1f} s came after the run had finished (exit 0); not counted, again",
                  flush=True)
            i -= 1
            continue
        if proc.returncode != 128 + signum:
            problems.append(f"exit {proc.returncode}, expected {128 + signum}")
        said = re.search(r"interrupted after (\d+) of (\d+)", stderr)
        if not output.exists():
            if "before the first measurement finished" not in stderr:
                problems.append("no file, and the run did not say why")
            kept = 0
        else:
            try:
                records = load_measurements(output)
                states = {r.get("run_state") for r in records}
                kept = len(cases(output))
                if not said or int(said.group(1)) != len({r["slot"] for r in records}):
                    problems.append(f"the message ({said.group(0) if said else 'none'}) does not match the file")
                if not said or states != {f"interrupted after {said.group(1)} of {said.group(2)} ({name})"}:
                    problems.append(f"file state {states}")
            except NotAResult as exc:
                problems.append(f"file not loadable: {exc}")
                kept = 0
        resumed = run(args.python, [], None, mark, extra=("--resume", str(output))) if output.exists() else \
            run(args.python, args.run_args, output, mark)
        _, resume_err = resumed.communicate()
        if resumed.returncode != 0:
            problems.append(f"resume exited {resumed.returncode}: {resume_err.strip()[-300:]}")
        elif same_plan(cases(output), expected):
            problems.append(f"after resume: {same_plan(cases(output), expected)}")
        left = wait_gone(mark)
        if left:
            problems.append(f"left running after resume: pids {left}")
        print(f"run {i}: {name} at {at:.1f} s -> exit {proc.returncode}, {kept} measurements kept; resumed to "
              f"{len(cases(output)) if output.exists() else 0} of {len(expected)}: "
              + ("ok" if not problems else "; ".join(problems)), flush=True)
        failures += [f"run {i}: {p}" for p in problems]
    if i < args.runs:
        failures.append(f"only {i} of {args.runs} runs were interrupted before they finished")
    print("interrupt check: " + ("PASS" if not failures else "FAIL:\n  " + "\n  ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
