"""Shared fixtures: real servers started exactly as the benchmark starts them (`concbench serve`)."""
from __future__ import annotations

import contextlib
import shutil

import pytest

from concbench import registry
from concbench.harness.server_process import ServerProcess


@contextlib.contextmanager
def running_server(runner: str, scenario: str = "echo", params: dict | None = None, options: dict | None = None,
                   backend: str | None = None):
    """A fresh `concbench serve` process (unpinned); yields it, always stops it."""
    params = registry.SCENARIOS[scenario].parse_params(params or {})
    server = ServerProcess(runner, scenario, params, None, options, backend=backend).start()
    try:
        yield server
    finally:
        server.stop()


def echo_runners() -> list[str]:
    return [name for name in registry.RUNNERS if registry.applicable(name, "echo") is None]


@pytest.fixture(params=["native", "uvloop"])
def each_engine(request, monkeypatch):
    """Runs a load-generator test once per engine (run_load reads CONCBENCH_ENGINE when none is given)."""
    from concbench.clients import native_engine
    if request.param == "native" and not native_engine.available():
        pytest.skip(native_engine.UNAVAILABLE_BECAUSE)   # tests/test_native_engine.py fails if a compiler exists
    monkeypatch.setenv("CONCBENCH_ENGINE", request.param)
    return request.param


@pytest.fixture(params=echo_runners())
def echo_server(request):
    if request.param == "reference-c" and not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("reference-c needs a C compiler, and this machine has none")
    with running_server(request.param) as server:
        yield server
