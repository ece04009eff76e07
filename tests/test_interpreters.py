"""`concbench run --python ...` (concbench.studies.interpreters): a missing interpreter or a framework that will not install
is one line and the rest runs; results are tagged with the interpreter. The environment is faked (a real one takes
a minute to install); the run, its servers and the result file are real."""
from __future__ import annotations

import json
import stat
import sys

from concbench import cli

from concbench.harness import envs

from concbench.studies import interpreters
from concbench.results.format import load_measurements


def fake_env(tmp_path, failed: dict) -> object:
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    python = env / "bin" / "python"
    python.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    (env / interpreters.FAILED_FILE).write_text(json.dumps(failed))

    def ensure(spec, log, installer=None):
        identity = envs.identify(spec.python)         # real: a missing interpreter fails here
        return env, identity, False
    return ensure


def test_missing_interpreter_and_uninstallable_framework_are_lines_and_the_rest_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(interpreters, "ensure", fake_env(tmp_path, {"twisted": "No matching distribution found"}))
    output = tmp_path / "out.json"
    code = cli.main(["run", "--python", str(tmp_path / "python3.99"), "--python", sys.executable,
                     "--runners", "asyncio", "twisted", "--scenarios", "echo", "--connections", "1",
                     "--duration", "0.2", "--warmup", "0", "--repetitions", "1", "--no-report", "-o", str(output)])
    out = capsys.readouterr().out
    assert code == 0
    assert f"--python {tmp_path / 'python3.99'}: skipped: interpreter" in out and "not found" in out
    assert "twisted will not install" in out and "not run: twisted" in out
    version = ".".join(map(str, sys.version_info[:3]))
    records = load_measurements(output)
    assert {r["runner"] for r in records} == {f"asyncio py{version}"}
    assert {r["runner_untagged"] for r in records} == {"asyncio"}
    assert all(r["server_python"].endswith(version) for r in records)


def test_tags_name_the_interpreter():
    assert interpreters.tag("asyncio", {"implementation": "CPython", "version": "3.13.0", "free_threaded": True}) \
        == "asyncio py3.13.0t"
    assert interpreters.tag("gevent", {"implementation": "PyPy", "version": "3.10.14"}) == "gevent pypy-py3.10.14"


def test_the_environment_key_follows_the_code_on_disk(tmp_path):
    for package in ("concbench", "scenarios", "runners", "analysis"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    before = interpreters.tree_id(tmp_path)
    assert interpreters.tree_id(tmp_path) == before
    (tmp_path / "runners" / "__init__.py").write_text("# changed\n")
    assert interpreters.tree_id(tmp_path) != before
