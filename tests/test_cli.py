"""The command line contract: bad input exits 2 with one line and no traceback; good input works."""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from .brokenservers import BrokenServer


def concbench(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "concbench", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("args, message", [
    (["serve", "nope", "echo", "--port", "0"], "unknown runner 'nope'"),
    (["serve", "asyncio", "nope", "--port", "0"], "unknown scenario 'nope'"),
    (["serve", "asyncio", "echo", "--port", "99999"], "port must be 0-65535"),
    (["serve", "asyncio", "echo", "--port", "0", "--size", "0"], "at least 1"),
    (["serve", "asyncio", "echo", "--port", "0", "--cpus", "4096"], "does not have"),
    (["serve", "threads", "echo", "--port", "0", "--option", "switch_interval_ms=0"], "strictly positive"),
    (["load", "echo", "--target", "127.0.0.1:9", "--connections", "ten", "--duration", "1"], "whole number"),
    (["load", "echo", "--target", "127.0.0.1:9", "--connections", "0", "--duration", "1"], "at least 1"),
    (["load", "echo", "--target", "127.0.0.1:9", "--connections", "1", "--duration", "-1"], "above 0"),
    (["load", "echo", "--target", "nohost", "--connections", "1", "--duration", "1"], "HOST:PORT"),
    (["load", "echo", "--target", "127.0.0.1:9", "--connections", "1", "--duration", "1", "--warmup", "-1"],
     "--warmup"),
    (["load", "echo", "--target", "127.0.0.1:9", "--connections", "100000", "--duration", "1"], "open files"),
    (["load", "echo", "--target", "127.0.0.1:9", "--connections", "1", "--duration", "1", "--rate", "0"], "above 0"),
    (["load", "echo", "--target", "127.0.0.1:9", "--connections", "1", "--duration", "1", "--rate", "-5"],
     "above 0"),
    (["load", "echo", "--target", "127.0.0.1:9", "--connections", "1", "--duration", "1", "--arrival", "x"],
     "invalid choice"),
    (["load", "echo", "--target", "no-such-host.invalid:80", "--connections", "1", "--duration", "1"],
     "cannot resolve"),
    (["run", "--rates", "0"], "above 0"),
    (["run", "--param", "colour=1"], "no selected scenario has a parameter 'colour'"),
    (["load", "cpu", "--target", "127.0.0.1:9", "--connections", "1", "--duration", "1", "--param", "iterations=x"],
     "whole number"),
    (["run", "--runners", "nope"], "unknown runner 'nope'"),
    (["run", "--scenarios", "nope"], "unknown scenario 'nope'"),
    (["run", "--option", "processes:nope=1"], "no option 'nope'"),
    (["run", "--option", "garbage"], "RUNNER:NAME=VALUE"),
    (["run", "--repetitions", "x"], "whole number"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, message):
    assert_bad_input(concbench(*args), message)


def assert_bad_input(done, message: str, code: int = 2) -> None:
    """The CLI contract for bad input: exit code, one line naming the problem, no traceback."""
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = concbench("serve", "asyncio", "echo", "--port", str(taken.getsockname()[1]))
    assert done.returncode == 2
    assert "already in use" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_refused_target_is_one_line():
    done = concbench("load", "echo", "--target", f"127.0.0.1:{closed_port()}", "--connections", "1", "--duration", "1")
    assert done.returncode == 2
    assert "refused" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_list_names_every_runner_with_its_version():
    from concbench import registry
    done = concbench("list")
    assert done.returncode == 0
    for runner in registry.RUNNERS.values():
        assert runner.name in done.stdout
        assert runner.version() in done.stdout
    verbose = concbench("list", "--verbose").stdout          # parameters: in the verbose listing (issue 15)
    assert "--param size=N (default 64)" in verbose
    assert "--param iterations=N" in verbose


def test_load_json_carries_the_contract_fields(tmp_path):
    out = tmp_path / "load.json"
    with BrokenServer(lambda data: data) as server:
        done = concbench("load", "echo", "--target", f"127.0.0.1:{server.port}", "--connections", "2",
                         "--duration", "0.3", "--warmup", "0.1", "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    for key in ("throughput_rps", "latency_p50_s", "latency_p99_s", "errors", "requests"):
        assert key in report
    assert report["errors"] == 0 and report["requests"] > 0 and report["status"] == "ok"


def test_load_against_a_wrong_server_exits_1_and_says_why():
    with BrokenServer(lambda data: data[::-1]) as server:
        done = concbench("load", "echo", "--target", f"127.0.0.1:{server.port}", "--connections", "1",
                         "--duration", "0.2", "--warmup", "0")
    assert done.returncode == 1
    assert done.stdout.startswith("failed") and "mismatch" in done.stdout
