"""Shared fixtures: real servers started exactly as the benchmark starts them (`concbench serve`)."""
from __future__ import annotations

import contextlib
import shutil

import pytest

from concbench import registry
from concbench.server_process import ServerProcess


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


@pytest.fixture(params=echo_runners())
def echo_server(request):
    if request.param == "reference-c" and not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("reference-c needs a C compiler, and this machine has none")
    with running_server(request.param) as server:
        yield server
