"""`concbench verify`: real runners pass; a server that answers everything with 200 is caught by the probes."""
from __future__ import annotations

import subprocess
import sys

from concbench.registry import SCENARIOS
from concbench.studies.verify import run_probes, verify_pair

from .brokenservers import BrokenServer
from .test_loadgen import http_reply


def test_a_runner_passes_both_scenarios():
    assert verify_pair("asyncio", "echo") == []
    assert verify_pair("asyncio", "http") == []


def test_probes_catch_a_server_that_always_says_200():
    with BrokenServer(lambda data: http_reply()) as server:
        problems = run_probes(server.port, SCENARIOS["http"].probes)
    assert any("not 404" in p for p in problems)
    assert any("not 400" in p for p in problems)


def test_own_stack_probes_accept_a_close_but_not_a_200_for_a_malformed_request():
    with BrokenServer(lambda data: http_reply()) as server:
        problems = run_probes(server.port, SCENARIOS["http"].probes, own_http_stack=True)
    assert any("not 4xx or a close" in p for p in problems)
    assert verify_pair("twisted-web", "http") == []


def test_verify_command_reports_each_pair():
    done = subprocess.run([sys.executable, "-m", "concbench", "verify", "--runners", "threads", "reference-c",
                           "--scenarios", "all"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "echo     threads              pass" in done.stdout
    assert "http     reference-c          n/a" in done.stdout
    assert "all pairs pass" in done.stdout
