"""`concbench clients` and `concbench ceiling` build the right client commands (no load is run here)."""
from __future__ import annotations

import pytest

from concbench.cli import build_parser
from concbench.cli.plans import clients_plan
from concbench.errors import UsageError
from concbench.studies.ceiling import client_commands
from concbench.studies.client_compare import client_command, run_clients
from concbench.studies.plans import CeilingPlan


def parse(*argv):
    return clients_plan(build_parser().parse_args(["clients", *argv]))


def test_each_engine_is_asked_for_by_name():
    args = parse("--scenario", "echo", "--size", "128")
    for engine in ("native", "uvloop"):
        command = client_command(engine, args, 5000, (1,))
        assert command[command.index("--engine") + 1] == engine
        assert command[command.index("--size") + 1] == "128"
        assert "127.0.0.1:5000" in command and command[command.index("--cpus") + 1] == "1"


def test_reference_clients_drive_only_their_scenario():
    with pytest.raises(UsageError, match="wrk drives the http scenario only"):
        run_clients(parse("--scenario", "echo", "--clients", "native", "wrk"))
    with pytest.raises(UsageError, match="c-epoll the echo and churn scenarios only"):
        run_clients(parse("--scenario", "http", "--clients", "native", "c-epoll"))


def test_ceiling_runs_both_engines_by_name():
    commands = client_commands(5000, CeilingPlan(connections=50, size=64, duration=1.0), (1,))
    assert commands["concbench"][-2:] == ["--engine", "native"]
    assert commands["concbench-uvloop"][-2:] == ["--engine", "uvloop"]


def test_churn_is_driven_by_the_c_client_in_its_churn_mode():
    args = parse("--scenario", "churn", "--size", "32")
    command = client_command("c-epoll", args, 5000, (1,))
    assert command[-1] == "--churn" and command[command.index("5000") + 2] == "32"
    native = client_command("native", args, 5000, (1,))
    assert native[native.index("load") + 1] == "churn" and native[native.index("--size") + 1] == "32"


def test_the_ceilings_open_loop_runs_the_c_client_at_the_same_rate():
    from concbench.studies.ceiling import open_loop_command
    plan = CeilingPlan(connections=50, size=64, duration=1.0, loadgen_cpus=(1,))
    c = open_loop_command("c-epoll", 150000.0, 5000, plan)
    ours = open_loop_command("concbench", 150000.0, 5000, plan)
    assert c[-2:] == ["--rate", "150000.0"] and c[:3] == ["taskset", "-c", "1"]
    assert ours[ours.index("--rate") + 1] == "150000.0" and ours[ours.index("--connections") + 1] == "50"
    uvloop = open_loop_command("concbench", 150000.0, 5000, CeilingPlan(50, 64, 1.0, engine="uvloop"))
    assert uvloop[uvloop.index("--engine") + 1] == "uvloop" and uvloop[-2:] == ["--rate", "150000.0"]
