"""Runner plugins: an installed distribution's concbench.runners entry point appears in `list`, serves through
`concbench serve` (so verify, run and the conformance checks reach it) and is labelled external; a broken one
is a line in `list`, not a traceback. The plugin is a real (fake-installed) distribution on PYTHONPATH."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from concbench.clients.loadgen import LoadPlan, run_load
from concbench.results.measurement import loadgen_report
from concbench.harness.server_process import ServerProcess
from concbench.scenarios.echo import SCENARIO as ECHO

DEMO = Path(__file__).parent / "plugin_demo"


def install_fake_distribution(root: Path, entry_points: str) -> dict:
    """A dist-info directory beside the demo module: importlib.metadata finds it on PYTHONPATH like an install."""
    dist = root / "concbench_demo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: concbench-demo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[concbench.runners]\n" + entry_points)
    path = os.pathsep.join([str(root), str(DEMO), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path}


def concbench(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "concbench", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


@pytest.fixture
def plugin_env(tmp_path):
    return install_fake_distribution(tmp_path, "demo = concbench_demo_plugin\n"
                                               "broken = concbench_no_such_module\n"
                                               "asyncio = concbench_demo_plugin\n")


def test_list_shows_the_plugin_labelled_external_and_each_broken_entry_point_as_one_line(plugin_env):
    done = concbench(plugin_env, "list", "--verbose")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    demo = [line for line in done.stdout.splitlines() if line.strip().startswith("demo ")]
    assert demo and "EXTERNAL plugin from concbench-demo-plugin" in demo[0]
    assert "does not serve cpu" in done.stdout          # ONLY_SCENARIOS is honoured
    problems = [line for line in done.stdout.splitlines() if "PLUGIN PROBLEM" in line]
    assert any("'broken'" in line and "cannot be imported: ModuleNotFoundError" in line for line in problems)
    assert any("'asyncio'" in line and "taken by a built-in runner" in line for line in problems)


def test_the_plugin_serves_echo_verified_under_load_and_passes_verify(plugin_env):
    server = ServerProcess("demo", "echo", ECHO.parse_params({}), None, env=plugin_env).start()
    try:
        plan = LoadPlan("127.0.0.1", server.port, 3, warmup_s=0.05, duration_s=0.25, timeout_s=5.0)
        report = loadgen_report(run_load(plan, ECHO.client_workload({"size": 64})))
    finally:
        server.stop()
    assert report["status"] == "ok", report["first_error"]
    assert report["requests"] > 0 and report["errors"] == 0
    done = concbench(plugin_env, "verify", "--runners", "demo", "--scenarios", "http")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "http     demo" in done.stdout and "pass" in done.stdout


def test_results_label_the_plugin_external(plugin_env, tmp_path):
    out = tmp_path / "plugin.json"
    done = concbench(plugin_env, "run", "--runners", "demo", "--scenarios", "echo", "--connections", "2",
                     "--repetitions", "1", "--warmup", "0.05", "--duration", "0.2", "-o", str(out), "--no-report")
    assert done.returncode == 0, done.stdout + done.stderr
    from concbench.results.format import load_measurements
    metas = load_measurements(out)
    assert metas and all(m["runner_external"] == "plugin" and m["runner"] == "demo" for m in metas)
    assert all(m["framework"] == "concbench-demo-plugin" and m["framework_version"] == "0.1" for m in metas)


def test_discovery_in_process_with_a_fake_entry_point(monkeypatch):
    """The importlib.metadata seam, monkeypatched: a module without serve is a problem line, not a runner."""
    import importlib.metadata

    from concbench import plugins, registry

    eps = [importlib.metadata.EntryPoint("noserve", "json", plugins.GROUP),
           importlib.metadata.EntryPoint("good", "concbench.runners.asyncio_protocol", plugins.GROUP)]
    monkeypatch.setattr(plugins, "entry_points", lambda: eps)
    runners, problems = plugins.discover(registry.Runner, set(registry.RUNNERS))
    assert [r.name for r in runners] == ["good"] and runners[0].external and not runners[0].default
    assert len(problems) == 1 and "'noserve'" in problems[0] and "has no serve" in problems[0]
