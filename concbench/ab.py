"""`concbench ab`: two git revisions of this repository measured in one job, interleaved, then compared.

It owns exporting each revision (`git archive` into a temporary folder: the repository is only read), the
alternating schedule of one-repetition `concbench run` children, and merging their files into one result
per variant. Measuring is each revision's own `run`; comparing is `concbench compare`'s code.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .errors import BadInput

REPOSITORY = Path(__file__).resolve().parent.parent
VARIANTS = ("a", "b")


def add_ab_arguments(p) -> None:
    from .cli import add_compare_arguments, positive_int
    from .orchestrate import add_suite_arguments
    p.add_argument("--a-ref", required=True, metavar="REV", help="the baseline revision (A), e.g. origin/main")
    p.add_argument("--b-ref", required=True, metavar="REV", help="the revision under test (B), e.g. HEAD")
    p.add_argument("--rounds", type=positive_int, default=3,
                   help="rounds; in each, every case is measured once for A and once for B (default 3)")
    add_suite_arguments(p)
    p.add_argument("--output-dir", help="where a.json and b.json (the merged results) go (default: results/ab-<time>/)")
    add_compare_arguments(p)


def forwarded_run_options(args) -> list[str]:
    """The `concbench run` options of both children, from ab's own (validated by each child again)."""
    from .orchestrate import suite_options
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


def run_revision(tree: Path, output: Path, options: list[str], log: Path) -> None:
    """One repetition of every case with the revision's own code (same interpreter and dependencies)."""
    command = [sys.executable, "-m", "concbench", "run", "--repetitions", "1", "--no-report", "-o", str(output),
               *options]
    with open(log, "ab") as log_file:
        done = subprocess.run(command, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                              stdout=log_file, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if done.returncode not in (0, 4):    # 4: a runner failed every repetition; its failures are in the file
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise BadInput(f"concbench run of {tree.name.upper()} exited {done.returncode}: {last}")


def run_ab(args) -> int:
    from .cli import compare_files
    from .results import merge_result_files
    refs = {"a": args.a_ref, "b": args.b_ref}
    commits = {variant: resolve(ref) for variant, ref in refs.items()}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    output_dir = Path(args.output_dir or Path("results") / f"ab-{stamp}")
    options = forwarded_run_options(args)
    order = alternating_order(args.rounds)
    ab_command = " ".join(["concbench", *sys.argv[1:]])
    print(f"concbench ab: A = {refs['a']} ({commits['a'][:12]}), B = {refs['b']} ({commits['b'][:12]}); "
          f"{args.rounds} rounds, each one `concbench run --repetitions 1 {' '.join(options)}` per variant",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="concbench-ab-") as tmp:
        trees = {variant: export_revision(commits[variant], Path(tmp) / variant) for variant in VARIANTS}
        parts: dict[str, list[Path]] = {variant: [] for variant in VARIANTS}
        started = time.monotonic()
        for step, (round_index, variant) in enumerate(order):
            part = Path(tmp) / f"{variant}-round{round_index}.json"
            print(f"[{step + 1}/{len(order)} {time.monotonic() - started:5.0f} s] round {round_index + 1}/"
                  f"{args.rounds}: {variant.upper()} ({refs[variant]})", flush=True)
            run_revision(trees[variant], part, options, Path(tmp) / f"{variant}.log")
            parts[variant].append(part)
        for variant in VARIANTS:
            merge_result_files(parts[variant], output_dir / f"{variant}.json",
                               {"git_commit": commits[variant], "ab_variant": variant.upper(),
                                "ab_ref": refs[variant], "ab_command": ab_command})
    print(f"results: {output_dir / 'a.json'} (A), {output_dir / 'b.json'} (B)\n", flush=True)
    return compare_files(output_dir / "a.json", output_dir / "b.json", args)
