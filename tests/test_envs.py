"""Environments for `ab` (concbench.harness.envs) and `ab` of package sets: each side's environment made once and cached,
keyed by interpreter, requirements and suite revision; the sides measured interleaved. Installs are faked here
(a real pip install takes minutes); the venv itself is real."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from concbench.studies import ab

from concbench import cli

from concbench.harness import envs
from tests.test_compare import record, write_result

HEAD = "0" * 40


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCBENCH_ENV_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def fake_installer(calls):
    def install(python: Path, tree: Path, requirements, log):
        calls.append((tree, tuple(requirements)))
        (python.parent.parent / "installed.txt").write_text(" ".join(requirements))
    return install


def test_an_environment_is_made_once_then_cached(cache, tmp_path):
    calls = []
    spec = envs.EnvSpec(sys.executable, ("twisted==24.3.0",), tmp_path, HEAD)
    env, identity, made = envs.ensure(spec, tmp_path / "log", fake_installer(calls))
    assert made and (env / envs.STAMP).exists() and (env / "installed.txt").read_text() == "twisted==24.3.0"
    assert identity["version"] == ".".join(map(str, sys.version_info[:3]))
    again, _, made_again = envs.ensure(spec, tmp_path / "log", fake_installer(calls))
    assert again == env and not made_again and len(calls) == 1
    other, _, _ = envs.ensure(envs.EnvSpec(sys.executable, ("twisted==24.10.0",), tmp_path, HEAD), tmp_path / "log",
                              fake_installer(calls))
    assert other != env and len(calls) == 2


def test_a_failed_install_leaves_nothing_to_reuse(cache, tmp_path):
    def failing(python, tree, requirements, log):
        raise envs.EnvFailed("pip install failed: no matching distribution for nothing==0")
    spec = envs.EnvSpec(sys.executable, ("nothing==0",), tmp_path, HEAD)
    with pytest.raises(envs.EnvFailed, match="no matching distribution"):
        envs.ensure(spec, tmp_path / "log", failing)
    assert not any(p.name.endswith(envs.STAMP) for p in cache.rglob("*"))


def test_a_missing_interpreter_is_one_line(tmp_path):
    with pytest.raises(envs.EnvFailed, match="not found"):
        envs.identify(str(tmp_path / "python9.9"))


def test_ab_of_two_package_sets_installs_each_side_once_and_interleaves(cache, tmp_path, monkeypatch, capsys):
    made, runs = [], []

    def ensure(spec, log, installer=None):
        made.append(spec.requirements)
        env = tmp_path / ("env-" + "-".join(spec.requirements))
        return env, {"implementation": "CPython", "version": "3.11.7", "real_path": sys.executable}, True

    def run_revision(tree, output, options, log, python=None):
        variant = "a" if "24.3.0" in python else "b"
        runs.append(variant)
        rps = 20_000 + len(runs)
        write_result(output, {"asyncio": [record(0, rps)]})

    monkeypatch.setattr(envs, "ensure", ensure)
    monkeypatch.setattr(ab, "run_revision", run_revision)
    code = cli.main(["ab", "--a-pip", "twisted==24.3.0", "--b-pip", "twisted==24.10.0", "--rounds", "3",
                     "--runners", "asyncio", "--scenarios", "echo", "--output-dir", str(tmp_path / "out")])
    assert code in (0, 1, 2)
    assert made == [("twisted==24.3.0",), ("twisted==24.10.0",)]          # each side installed once
    assert runs == ["a", "b", "b", "a", "a", "b"]                         # interleaved, alternating who leads
    out = capsys.readouterr().out
    assert "A: CPython 3.11.7" in out and "twisted==24.3.0" in out and "twisted==24.10.0" in out


def test_two_revisions_get_their_own_installed_code(cache, tmp_path):
    """A = the commit before this work (no concbench/studies/instructions.py), B = HEAD: each environment imports its own copy.
    Dependencies come from the running environment (a .pth) so that only the suite itself is installed here."""
    import site
    import subprocess
    deps = [p for p in site.getsitepackages() if p.endswith("site-packages")][0]

    def install_suite_only(python, tree, requirements, log):
        pth = next((python.parent.parent / "lib").glob("python*/site-packages")) / "concbench-test-deps.pth"
        pth.write_text(deps + "\n")
        done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps",
                               str(tree)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr

    has_module = {}
    for variant, ref in (("a", "9c981fd"), ("b", "HEAD")):
        commit = ab.resolve(ref)
        tree = ab.export_revision(commit, tmp_path / variant)
        env, _, made = envs.ensure(envs.EnvSpec(sys.executable, (), tree, commit), tmp_path / "log",
                                   install_suite_only)
        probe = ("import concbench, os; here = os.path.dirname(concbench.__file__); "
                 "print(concbench.__file__, os.path.exists(os.path.join(here, 'studies', 'instructions.py')))")
        where = subprocess.run([str(env / "bin" / "python"), "-c", probe],
                               capture_output=True, text=True, cwd=tmp_path, timeout=60).stdout.split()
        assert made and where[0].startswith(str(env))            # the installed copy, not the repository
        has_module[variant] = where[1] == "True"
    assert has_module == {"a": False, "b": True}


def test_the_cache_keeps_the_most_recently_used(cache, tmp_path):
    calls = []
    made = [envs.ensure(envs.EnvSpec(sys.executable, (f"pkg=={i}",), tmp_path, HEAD), tmp_path / "log",
                        fake_installer(calls))[0] for i in range(3)]
    import os
    for age, env in enumerate(made):          # oldest first
        os.utime(env / envs.STAMP, (1000 + age, 1000 + age))
    assert envs.prune(keep=2) == [made[0]]
    assert not made[0].exists() and made[1].exists() and made[2].exists()
