"""The command line behaves like its peers: --version, a real description, defaults in every help, '-' is
stdout, a closed pipe ends quietly, show --json/--csv, compact list, a warning under 3 repetitions, -q/-v."""
from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyperf

from concbench import __version__
from concbench.cli import HelpFormatter, build_parser

BASELINE = str(Path(__file__).resolve().parent.parent / "results" / "baseline.json")


def concbench(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "concbench", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_version():
    done = concbench("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"concbench {__version__}"


def test_top_level_help_describes_the_tool_and_gives_examples():
    done = concbench("--help")
    assert done.returncode == 0
    assert "concbench measures Python network servers" in done.stdout
    assert "examples:" in done.stdout and "concbench run --quick" in done.stdout


def test_every_option_of_every_command_states_its_default():
    parser = build_parser()
    formatter = HelpFormatter("concbench")
    missing = []
    for name, command in [("", parser), *parser.command_parsers.items()]:
        for action in command._actions:
            if not action.option_strings or action.nargs == 0 or action.help == argparse.SUPPRESS:
                continue                                    # positionals, flags, hidden options
            text = formatter._get_help_string(action).lower()
            if "default" not in text and "(required)" not in text:
                missing.append(f"{name} {action.option_strings[0]}")
    assert missing == []
    run_help = " ".join(concbench("run", "--help").stdout.split())
    assert "(default: 0.25 s (--quick 0.2 s, --full 2 s))" in run_help          # profile-dependent, stated


def test_show_json_and_csv_to_stdout_and_to_a_file(tmp_path):
    done = concbench("show", BASELINE, "--json")
    rows = json.loads(done.stdout)
    assert done.returncode == 0 and rows and {"runner", "throughput_rps_median", "ratio_low", "unstable"} <= set(rows[0])
    done = concbench("show", BASELINE, "--csv", "-")
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [row["runner"] for row in table] == [row["runner"] for row in rows]
    done = concbench("show", BASELINE, "--csv", str(tmp_path / "cases.csv"))
    assert done.returncode == 0 and done.stdout == "" and (tmp_path / "cases.csv").read_text().startswith("scenario,")


def test_compare_json_dash_is_stdout_not_a_file_named_dash(tmp_path):
    done = subprocess.run([sys.executable, "-m", "concbench", "compare", BASELINE, BASELINE, "--json", "-"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    report = json.loads(done.stdout)
    assert "rows" in report and done.returncode in (0, 2)
    assert not (tmp_path / "-").exists()
    assert "|" in done.stderr                                # the markdown table moved to stderr


def test_a_closed_pipe_ends_quietly():
    child = subprocess.Popen([sys.executable, "-m", "concbench", "list", "--verbose"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    child.stdout.close()                                    # the reader is gone before the first line
    _, stderr = child.communicate(timeout=60)
    assert stderr.decode() == ""
    assert child.returncode == 141


def test_list_is_compact_and_verbose_on_request():
    compact = concbench("list").stdout
    verbose = concbench("list", "--verbose").stdout
    assert "option " not in compact and "not on " not in compact
    assert "option workers" in verbose and "not on " in verbose
    assert len(compact.splitlines()) < len(verbose.splitlines()) / 2
    assert concbench("-v", "list").stdout == verbose
    names = concbench("list", "-q").stdout.split()
    assert "asyncio" in names and "echo" in names


def test_run_to_stdout_warns_under_3_repetitions_and_v_shows_evidence():
    done = concbench("-v", "run", "--quick", "--runners", "asyncio", "--scenarios", "echo", "--connections", "1",
                     "--repetitions", "1", "-o", "-")
    assert done.returncode == 0, done.stderr
    assert "warning: 1 repetition: the rule is at least 3" in done.stderr
    assert "evidence:" in done.stderr and "rep 1/1" in done.stderr     # progress moved to stderr
    suite = pyperf.BenchmarkSuite.loads(done.stdout)                    # stdout is the result file alone
    assert any(name.endswith("/measurement") for name in suite.get_benchmark_names())


def test_quiet_run_prints_no_progress(tmp_path):
    done = concbench("run", "-q", "--quick", "--runners", "asyncio", "--scenarios", "echo", "--connections", "1",
                     "--repetitions", "1", "--no-report", "-o", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    assert "rep 1/1" not in done.stdout and "req/s" in done.stdout          # the table, not the progress
