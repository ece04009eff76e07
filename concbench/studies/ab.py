"""`concbench ab`: two environments measured in one job, interleaved, then compared: two git revisions of this
repository, two package sets (--a-pip/--b-pip), two interpreters (--a-python/--b-python), or any mix.

It owns exporting each revision (`git archive` into a temporary folder: the repository is only read), giving each
side its own cached virtual environment with that tree installed (concbench.harness.envs), the alternating schedule of
one-repetition `concbench run` children (a study of concbench.studies.pipeline: a stop signal stops the child under
way, and the rounds already measured are merged, marked interrupted), and merging their files into one result per
variant. Measuring is each side's own `run`; comparing is concbench.studies.comparison's.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from concbench.errors import BadInput
from concbench.harness import envs, lifecycle
from concbench.paths import REPOSITORY
from concbench.results.format import merge_result_files
from concbench.results.run_file import COMPLETE, STATE_KEY
from concbench.studies.comparison import compare_files
from concbench.studies.pipeline import Study, run_study, stamp
from concbench.studies.plans import AbPlan

VARIANTS = ("a", "b")
CHILD_GRACE_S = 15.0      # a stopped child `run` stops its own servers and writes its file first


def alternating_order(rounds: int) -> list[tuple[int, str]]:
    """(round, variant): A B, then B A, then A B...: neither variant always goes first (drift cancels)."""
    order = []
    for round_index in range(rounds):
        order += [(round_index, v) for v in (VARIANTS if round_index % 2 == 0 else VARIANTS[::-1])]
    return order


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True)


def resolve(ref: str) -> str:
    done = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if done.returncode != 0 or not done.stdout.strip():
        raise BadInput(f"{ref!r} is not a revision of this repository ({REPOSITORY})")
    return done.stdout.strip()


def export_revision(commit: str, folder: Path) -> Path:
    """The revision's files (no .git) in folder, through `git archive`."""
    folder.mkdir(parents=True)
    archive = folder.with_suffix(".tar")
    done = git("archive", "--format=tar", "-o", str(archive), commit)
    if done.returncode != 0:
        raise BadInput(f"git archive {commit[:12]} failed: {done.stderr.strip().splitlines()[-1:]}")
    subprocess.run(["tar", "-xf", str(archive), "-C", str(folder)], check=True)
    archive.unlink()
    if (folder / "setup.py").exists():      # the revision's native load-generator engine, if it has one and it
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=folder,   # builds
                       capture_output=True, timeout=300)
    return folder


def run_revision(tree: Path, output: Path, options: list[str], log: Path, python: str | None = None) -> None:
    """One repetition of every case with the side's own code, installed in its environment (`python`); run from
    an empty folder, so that nothing but the installed suite can be imported. The child is tracked
    (concbench.harness.lifecycle): a stop signal stops it."""
    command = [python or sys.executable, "-m", "concbench", "run", "--repetitions", "1", "--no-report",
               "-o", str(output.resolve()), *options]
    workdir = tree.parent / f"{tree.name}-cwd"
    workdir.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with open(log, "ab") as log_file:
        child = lifecycle.spawn(command, owns_group=True, cwd=workdir if python else tree,
                                env=env if python else {**os.environ, "PYTHONPATH": str(tree)},
                                stdout=log_file, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        _, stderr = child.communicate()
        lifecycle.untrack(child)
    if child.returncode not in (0, 4):    # 4: a runner failed every repetition; its failures are in the file
        last = (stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise BadInput(f"concbench run of {tree.name.upper()} exited {child.returncode}: {last}")


class Rounds:
    """The sink of `ab`: each round's result file, merged into a.json and b.json at the end; after an interrupt,
    the rounds already measured are merged too, every run marked with the state (`interrupted after k of n`)."""

    def __init__(self, output_dir: Path, metadata: dict):
        self.output_dir, self.metadata = output_dir, metadata
        self.parts: dict[str, list[Path]] = {variant: [] for variant in VARIANTS}
        self.done: set = set()
        self.path = None                 # until something is merged: nothing to point at

    @property
    def count(self) -> int:
        return len(self.done)

    def add(self, slot, measurements) -> None:
        self.done.add(slot)
        for variant, record in measurements:
            self.parts[variant].append(Path(record["part"]))

    def finish(self, state: str) -> None:
        for variant in VARIANTS:
            if self.parts[variant]:
                extra = {} if state == COMPLETE else {STATE_KEY: state}
                merge_result_files(self.parts[variant], self.output_dir / f"{variant}.json",
                                   {**self.metadata[variant], **extra})
                self.path = self.output_dir


def run_ab(plan: AbPlan) -> int:
    """The whole `ab`: both environments, the alternating rounds through the pipeline, the merge, the comparison."""
    refs = plan.refs
    commits = {variant: resolve(ref) for variant, ref in refs.items()}
    output_dir = Path(plan.output_dir or Path("results") / f"ab-{stamp()}")
    options = list(plan.run_options)
    print(f"concbench ab: A = {refs['a']} ({commits['a'][:12]}), B = {refs['b']} ({commits['b'][:12]}); "
          f"{plan.rounds} rounds, each one `concbench run --repetitions 1 {' '.join(options)}` per variant",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="concbench-ab-") as tmp:
        trees, pythons, metadata = environments(plan, commits, Path(tmp))
        rounds = Rounds(output_dir, metadata)

        def measure(variant: str) -> dict:
            part = Path(tmp) / f"{variant}-round{len(rounds.parts[variant])}.json"
            run_revision(trees[variant], part, options, Path(tmp) / f"{variant}.log", pythons[variant])
            return {"status": "ok", "part": str(part)}

        def conclude(measurements) -> int:
            print(f"results: {output_dir / 'a.json'} (A), {output_dir / 'b.json'} (B)\n", flush=True)
            return compare_files(output_dir / "a.json", output_dir / "b.json", plan.compare)

        def label(index: int, variant: str) -> str:
            return f"round {index + 1}/{plan.rounds}: {variant.upper()} ({refs[variant]})"

        return run_study(Study("ab", alternating_order(plan.rounds), measure,
                               lambda index, variant: f"{index}:{variant}", label, lambda record: "measured", rounds,
                               conclude, unit="runs", stop_grace_s=CHILD_GRACE_S))


def environments(plan: AbPlan, commits: dict, tmp: Path) -> tuple[dict, dict, dict]:
    """Each side's exported tree, the python of its environment (made or cached) and the metadata its merged file
    carries; one line per side."""
    pythons = {variant: plan.pythons.get(variant) or sys.executable for variant in VARIANTS}
    pips = {variant: tuple(plan.pips.get(variant, ())) for variant in VARIANTS}
    exported: dict[str, Path] = {}
    for commit in dict.fromkeys(commits.values()):        # one export per distinct revision
        exported[commit] = export_revision(commit, tmp / f"tree-{commit[:12]}")
    trees = {variant: exported[commits[variant]] for variant in VARIANTS}
    pythons_used, metadata = {}, {}
    for variant in VARIANTS:
        spec = envs.EnvSpec(pythons[variant], pips[variant], trees[variant], commits[variant])
        try:
            env, identity, made = envs.ensure(spec, tmp / f"{variant}-install.log")
        except envs.EnvFailed as exc:
            raise BadInput(f"{variant.upper()}'s environment: {exc}") from None
        pythons_used[variant] = str(env / "bin" / "python")
        metadata[variant] = {"git_commit": commits[variant], "ab_variant": variant.upper(),
                             "ab_ref": plan.refs[variant], "ab_command": " ".join(["concbench", *plan.command_line]),
                             "ab_pip": " ".join(pips[variant]) or "none",
                             "ab_python": f"{identity['implementation']} {identity['version']}"}
        print(f"  {variant.upper()}: {spec.describe(identity)}: {'installed into' if made else 'cached'} {env}",
              flush=True)
    if pythons_used["a"] == pythons_used["b"]:
        print("  A and B are the same environment (same revision, packages and interpreter): a control run",
              flush=True)
    return trees, pythons_used, metadata
