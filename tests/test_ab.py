"""`concbench ab`: the alternating schedule, the options forwarded to each revision's `run`, bad revisions
(exit 3, one line), and one tiny end-to-end A/B of HEAD against itself (its verdicts are not asserted)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from concbench.cli import build_parser
from concbench.cli.plans import ab_plan
from concbench.studies.ab import REPOSITORY, alternating_order
from concbench.results.format import load_measurements


def concbench(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "concbench", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_rounds_alternate_which_variant_goes_first():
    assert alternating_order(3) == [(0, "a"), (0, "b"), (1, "b"), (1, "a"), (2, "a"), (2, "b")]


def test_run_options_are_forwarded_to_both_revisions():
    args = build_parser().parse_args(["ab", "--a-ref", "x", "--b-ref", "y", "--quick", "--runners", "asyncio",
                                      "twisted", "--connections", "1", "10", "--duration", "0.2", "-O",
                                      "processes:workers=2", "--timeout", "10", "--slow-clients", "0", "100",
                                      "--slow-interval", "0.2", "--server-cpus", "0", "--loadgen-cpus", "1"])
    forwarded = list(ab_plan(args).run_options)
    assert forwarded == ["--quick", "--runners", "asyncio", "twisted", "--connections", "1", "10",
                                           "--slow-clients", "0", "100", "--duration", "0.2", "--timeout", "10.0",
                                           "--slow-interval", "0.2", "--server-cpus", "0", "--loadgen-cpus", "1",
                                           "--option", "processes:workers=2"]
    forwarded = build_parser().parse_args(["run", *forwarded])    # and `run` takes them back
    assert (forwarded.slow_clients, forwarded.timeout, forwarded.server_cpus) == ([0, 100], 10.0, (0,))


def test_an_unknown_revision_exits_3_with_one_line():
    done = concbench("ab", "--a-ref", "no-such-revision-xyz", "--b-ref", "HEAD")
    assert done.returncode == 3
    assert "no-such-revision-xyz" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_bad_arguments_exit_3_for_ab_and_compare():
    done = concbench("ab", "--a-ref", "HEAD")
    assert done.returncode == 3 and "--b-ref" in done.stderr
    done = concbench("compare", "a.json", "b.json", "--bogus")
    assert done.returncode == 3 and "unrecognized arguments: --bogus" in done.stderr
    assert concbench("show", "a.json", "--bogus").returncode == 2   # other commands keep exit 2


@pytest.mark.timeout(600)      # the first run installs HEAD into its own cached environment (minutes)
def test_tiny_ab_of_head_against_itself(tmp_path):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True).stdout.strip()
    done = concbench("ab", "--a-ref", "HEAD", "--b-ref", "HEAD", "--scenarios", "echo", "--runners", "asyncio",
                     "--connections", "1", "--rounds", "2", "--duration", "0.2", "--warmup", "0", "--output-dir", str(tmp_path),
                     "--markdown", str(tmp_path / "ab.md"), timeout=580)
    assert done.returncode in (0, 1, 2), done.stdout + done.stderr   # a verdict, whichever it is
    for variant in ("a", "b"):
        records = load_measurements(tmp_path / f"{variant}.json")
        assert sorted(r["repetition"] for r in records) == [0, 1]
        assert {r["git_commit"] for r in records} == {head}
        assert {r["ab_variant"] for r in records} == {variant.upper()}
    assert "| echo size=64 c=1 asyncio | throughput |" in (tmp_path / "ab.md").read_text()
