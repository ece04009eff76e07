"""`concbench run --python PATH [--python PATH ...]`: the suite's servers under several interpreters, side by side.

It owns one cached environment per interpreter (this suite's code, httptools, then each framework separately, so a
framework that will not install drops only its runners), rounds that rotate the interpreters, and one result file in
which every runner is tagged with its interpreter (`asyncio py3.12.1`). The load generator and the orchestrator
stay on the interpreter running concbench, so only the server differs.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyperf

from concbench import registry
from concbench.analysis.instructions import instructions_table
from concbench.analysis.report import write_report
from concbench.analysis.table import summary_table
from concbench.errors import UsageError
from concbench.harness import lifecycle
from concbench.harness.envs import EnvFailed, EnvSpec, ensure
from concbench.paths import REPOSITORY
from concbench.results.format import dump_suite_atomically, merge_result_files
from concbench.studies.orchestrate import default_output
from concbench.studies.pipeline import print_report_paths, rotated
from concbench.studies.plans import PythonsPlan

SERVER_PYTHON_ENV = "CONCBENCH_SERVER_PYTHON"    # read by concbench.harness.server_process: the server's interpreter
# what `concbench serve` imports for every runner: its command line (numpy, psutil, pyperf) and the http session
CORE = ("pyperf>=2.6,<3", "psutil>=5.9,<8", "numpy>=1.24", "httptools>=0.6,<1")
FRAMEWORKS = {"twisted": "twisted>=23.10", "tornado": "tornado>=6.3,<7", "gevent": "gevent>=23.9",
              "uvloop": "uvloop>=0.19,<1"}
FAILED_FILE = "frameworks-failed.json"


def tree_id(root: Path = REPOSITORY) -> str:
    """A hash of the suite's code as it is on disk (uncommitted changes included): the environment's cache key."""
    digest = hashlib.sha256()
    for package in ("concbench", "scenarios", "runners", "analysis"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    digest.update((root / "pyproject.toml").read_bytes())
    return "tree-" + digest.hexdigest()[:16]


def pip(python: Path, *args: str, log: Path) -> str | None:
    """None if `pip install args` worked, else pip's last error line."""
    with open(log, "ab") as log_file:
        done = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *args],
                              stdout=log_file, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=1800)
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.decode(errors="replace").splitlines()
             if line.strip() and not line.startswith("WARNING")]
    return lines[-1].strip() if lines else f"exit {done.returncode}"


def install_server_side(python: Path, tree: Path, requirements, log: Path) -> None:
    """The suite without its dependencies, the core (EnvFailed if it fails), then each framework on its own."""
    for args in ((str(tree), "--no-deps"), CORE):
        problem = pip(python, *args, log=log)
        if problem:
            raise EnvFailed(f"pip install {' '.join(args)}: {problem}")
    failed = {name: problem for name, spec in FRAMEWORKS.items() if (problem := pip(python, spec, log=log))}
    (python.parent.parent / FAILED_FILE).write_text(json.dumps(failed, indent=1) + "\n")


def failed_frameworks(env: Path) -> dict[str, str]:
    try:
        return json.loads((env / FAILED_FILE).read_text())
    except (OSError, ValueError):
        return {}


def tag(runner: str, identity: dict) -> str:
    ft = "t" if identity.get("free_threaded") else ""
    impl = "" if identity["implementation"] == "CPython" else identity["implementation"].lower() + "-"
    return f"{runner} {impl}py{identity['version']}{ft}"


def combine(parts: list[tuple[Path, dict]], output: Path) -> None:
    """One result file from per-interpreter files: every run's runner (and benchmark name) tagged with its interpreter."""
    runs: dict[str, list] = {}
    for path, identity in parts:
        for bench in pyperf.BenchmarkSuite.load(os.fspath(path)).get_benchmarks():
            for run in bench.get_runs():
                meta = dict(run.get_metadata())
                runner = meta["runner"]
                tagged = tag(runner, identity)
                name = bench.get_name().replace(f"/{runner}/", f"/{tagged}/")
                meta.update(runner=tagged, runner_untagged=runner, name=name,
                            server_python=f"{identity['implementation']} {identity['version']}",
                            server_python_path=identity["real_path"],
                            server_python_free_threaded=int(bool(identity.get("free_threaded"))))
                runs.setdefault(name, []).append(pyperf.Run(run.values, metadata=meta, collect_metadata=False))
    dump_suite_atomically(output, runs)


def run_with_pythons(plan: PythonsPlan) -> int:
    """The whole `run --python ...`: environments, rotated rounds, one tagged result, the table and report."""
    code_id = tree_id()
    output = Path(plan.output) if plan.output else default_output(list(plan.scenarios))
    with tempfile.TemporaryDirectory(prefix="concbench-pythons-") as tmp:
        sides = environments(plan, code_id, Path(tmp))
        parts: dict[int, list[Path]] = {i: [] for i in range(len(sides))}
        for round_index in range(plan.rounds):
            for i in rotated(list(range(len(sides))), round_index):
                identity, server_python, removals = sides[i]
                part = Path(tmp) / f"py{i}-round{round_index}.json"
                child_options = list(plan.run_options)
                if removals:              # the runners whose framework will not install here, removed
                    child_options = [*plan.options_without_runners,
                                     "--runners=" + ",".join([*plan.runners, *removals])]
                print(f"[round {round_index + 1}/{plan.rounds}] {tag('', identity).strip()}", flush=True)
                code = run_round(part, child_options, server_python)
                if code != 0 or not part.exists():
                    print(f"  {tag('', identity).strip()}: run exited {code}; this round left out", flush=True)
                    continue
                parts[i].append(part)
        merged = []
        for i, (identity, _, _) in enumerate(sides):
            if parts[i]:
                path = Path(tmp) / f"py{i}.json"
                merge_result_files(parts[i], path, {"server_python": identity["version"]})
                merged.append((path, identity))
        if not merged:
            raise UsageError("--python: no interpreter produced a result")
        combine(merged, output)
    print(f"\nresults: {output} (runners tagged with their interpreter)\n")
    if plan.measure == "instructions":
        print(instructions_table(output))
        return 0
    print(summary_table(output))
    if not plan.no_report:
        print_report_paths(write_report(output))
    return 0


def environments(plan: PythonsPlan, code_id: str, tmp: Path) -> list[tuple[dict, str, list[str]]]:
    """(identity, the environment's python, `-runner` removals) of every interpreter that can run the suite; one
    line for each that cannot, and for each framework that will not install (its runners are left out)."""
    sides = []
    for python in dict.fromkeys(plan.pythons):
        spec = EnvSpec(python, (), REPOSITORY, code_id)
        try:
            env, identity, made = ensure(spec, tmp / "install.log", install_server_side)
        except EnvFailed as exc:
            print(f"concbench run --python {python}: skipped: {exc}", flush=True)
            continue
        failed = failed_frameworks(env)
        dropped = sorted(name for name, runner in registry.RUNNERS.items() if runner.framework in failed)
        for framework, problem in sorted(failed.items()):
            names = [n for n in dropped if registry.RUNNERS[n].framework == framework]
            print(f"concbench run --python {python}: {framework} will not install on "
                  f"{identity['implementation']} {identity['version']} ({problem}); not run: {', '.join(names)}",
                  flush=True)
        print(f"  {tag('', identity).strip()}: {spec.describe(identity)}: "
              f"{'installed into' if made else 'cached'} {env}", flush=True)
        sides.append((identity, str(env / "bin" / "python"), [f"-{n}" for n in dropped]))
    if not sides:
        raise UsageError("--python: none of the interpreters can run the suite (see the lines above)")
    return sides


def run_round(part: Path, options: list[str], server_python: str) -> int:
    """One repetition of the suite by a `concbench run` child whose servers run under server_python; its exit code.
    The child is tracked (concbench.harness.lifecycle): a stop signal stops it."""
    child = lifecycle.spawn([sys.executable, "-m", "concbench", "run", "--repetitions", "1", "--no-report",
                             "-o", str(part), *options], owns_group=True,
                            env={**os.environ, SERVER_PYTHON_ENV: server_python}, stdin=subprocess.DEVNULL)
    code = child.wait()
    lifecycle.untrack(child)
    return code
