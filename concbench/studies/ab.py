"""`concbench ab`: two environments measured in one job, interleaved, then compared: two git revisions of this
repository, two package sets (--a-pip/--b-pip), two interpreters (--a-python/--b-python), or any mix.

It owns exporting each revision (`git archive` into a temporary folder: the repository is only read), giving each
side its own cached virtual environment with that tree installed (concbench.harness.envs), the alternating schedule of
one-repetition `concbench run` children, and merging their files into one result per variant. Measuring is each
side's own `run`; comparing is `concbench compare`'s code.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from concbench.errors import BadInput
from concbench.paths import REPOSITORY

VARIANTS = ("a", "b")


def add_ab_arguments(p) -> None:
    from concbench.cli import add_compare_arguments, positive_int
    from concbench.studies.orchestrate import add_suite_arguments
    p.add_argument("--a-ref", metavar="REV", help="the baseline revision (A), e.g. origin/main (default HEAD when "
                                                 "packages or interpreters are compared)")
    p.add_argument("--b-ref", metavar="REV", help="the revision under test (B), e.g. HEAD")
    p.add_argument("--a-pip", default="", metavar="'REQ ...'",
                   help="A's extra packages, pip specifiers in one argument, e.g. 'twisted==24.3.0' (default none)")
    p.add_argument("--b-pip", default="", metavar="'REQ ...'", help="B's extra packages, e.g. 'twisted==24.10.0'")
    p.add_argument("--a-python", metavar="PATH", help="A's interpreter (default: the one running concbench)")
    p.add_argument("--b-python", metavar="PATH", help="B's interpreter, e.g. /usr/bin/python3.12")
    p.add_argument("--rounds", type=positive_int, default=3,
                   help="rounds; in each, every case is measured once for A and once for B (default 3)")
    add_suite_arguments(p)
    p.add_argument("--output-dir", help="where a.json and b.json (the merged results) go (default: results/ab-<time>/)")
    add_compare_arguments(p)


def forwarded_run_options(args) -> list[str]:
    """The `concbench run` options of both children, from ab's own (validated by each child again)."""
    from concbench.studies.orchestrate import suite_options
    return suite_options(args)


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
    an empty folder, so that nothing but the installed suite can be imported."""
    command = [python or sys.executable, "-m", "concbench", "run", "--repetitions", "1", "--no-report",
               "-o", str(output.resolve()), *options]
    workdir = tree.parent / f"{tree.name}-cwd"
    workdir.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with open(log, "ab") as log_file:
        done = subprocess.run(command, cwd=workdir if python else tree,
                              env=env if python else {**os.environ, "PYTHONPATH": str(tree)},
                              stdout=log_file, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if done.returncode not in (0, 4):    # 4: a runner failed every repetition; its failures are in the file
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise BadInput(f"concbench run of {tree.name.upper()} exited {done.returncode}: {last}")


def run_ab(args) -> int:
    from concbench.cli import compare_files
    from concbench.results.format import merge_result_files
    from concbench.harness.envs import EnvFailed, EnvSpec, ensure
    environments = any((args.a_pip, args.b_pip, args.a_python, args.b_python))
    if not environments and not (args.a_ref and args.b_ref):
        raise BadInput("ab needs --a-ref and --b-ref (two revisions), or --a-pip/--b-pip or --a-python/--b-python "
                       "(two environments of one revision)")
    refs = {"a": args.a_ref or "HEAD", "b": args.b_ref or "HEAD"}
    commits = {variant: resolve(ref) for variant, ref in refs.items()}
    pythons = {"a": args.a_python or sys.executable, "b": args.b_python or sys.executable}
    try:
        pips = {"a": tuple(shlex.split(args.a_pip)), "b": tuple(shlex.split(args.b_pip))}
    except ValueError as exc:
        raise BadInput(f"--a-pip/--b-pip: {exc}") from None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    output_dir = Path(args.output_dir or Path("results") / f"ab-{stamp}")
    options = forwarded_run_options(args)
    order = alternating_order(args.rounds)
    ab_command = " ".join(["concbench", *sys.argv[1:]])
    print(f"concbench ab: A = {refs['a']} ({commits['a'][:12]}), B = {refs['b']} ({commits['b'][:12]}); "
          f"{args.rounds} rounds, each one `concbench run --repetitions 1 {' '.join(options)}` per variant",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="concbench-ab-") as tmp:
        exported: dict[str, Path] = {}
        for commit in dict.fromkeys(commits.values()):        # one export per distinct revision
            exported[commit] = export_revision(commit, Path(tmp) / f"tree-{commit[:12]}")
        trees = {variant: exported[commits[variant]] for variant in VARIANTS}
        pythons_used, identities = {}, {}
        for variant in VARIANTS:
            spec = EnvSpec(pythons[variant], pips[variant], trees[variant], commits[variant])
            try:
                env, identity, made = ensure(spec, Path(tmp) / f"{variant}-install.log")
            except EnvFailed as exc:
                raise BadInput(f"{variant.upper()}'s environment: {exc}") from None
            pythons_used[variant], identities[variant] = str(env / "bin" / "python"), identity
            print(f"  {variant.upper()}: {spec.describe(identity)}: {'installed into' if made else 'cached'} {env}",
                  flush=True)
        if pythons_used["a"] == pythons_used["b"]:
            print("  A and B are the same environment (same revision, packages and interpreter): a control run",
                  flush=True)
        parts: dict[str, list[Path]] = {variant: [] for variant in VARIANTS}
        started = time.monotonic()
        for step, (round_index, variant) in enumerate(order):
            part = Path(tmp) / f"{variant}-round{round_index}.json"
            print(f"[{step + 1}/{len(order)} {time.monotonic() - started:5.0f} s] round {round_index + 1}/"
                  f"{args.rounds}: {variant.upper()} ({refs[variant]})", flush=True)
            run_revision(trees[variant], part, options, Path(tmp) / f"{variant}.log", pythons_used[variant])
            parts[variant].append(part)
        for variant in VARIANTS:
            merge_result_files(parts[variant], output_dir / f"{variant}.json",
                               {"git_commit": commits[variant], "ab_variant": variant.upper(),
                                "ab_ref": refs[variant], "ab_command": ab_command,
                                "ab_pip": " ".join(pips[variant]) or "none",
                                "ab_python": f"{identities[variant]['implementation']} "
                                             f"{identities[variant]['version']}"})
    print(f"results: {output_dir / 'a.json'} (A), {output_dir / 'b.json'} (B)\n", flush=True)
    return compare_files(output_dir / "a.json", output_dir / "b.json", args)
