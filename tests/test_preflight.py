"""Checks before measuring: the output path and runner options are refused in one line before anything starts."""
from __future__ import annotations

import errno
import subprocess
import sys
from collections import namedtuple

import pytest

from concbench.studies import preflight
from concbench.errors import UsageError


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(UsageError, match="is a directory"):
        preflight.check_output(tmp_path, 10)


def test_an_existing_file_is_refused_unless_forced_or_resumed(tmp_path):
    path = tmp_path / "old.json"
    path.write_text("{}")
    with pytest.raises(UsageError, match="exists.*--force"):
        preflight.check_output(path, 10)
    preflight.check_output(path, 10, force=True)
    preflight.check_output(path, 10, existing_ok=True)


def test_the_default_name_is_made_unique(tmp_path):
    path = tmp_path / "suite-1.json"
    assert preflight.unique_path(path) == path
    path.write_text("{}")
    assert preflight.unique_path(path) == tmp_path / "suite-1-2.json"


def test_a_missing_folder_is_created_and_probed(tmp_path):
    preflight.check_output(tmp_path / "new" / "deeper" / "r.json", 10)
    assert (tmp_path / "new" / "deeper").is_dir()
    assert list((tmp_path / "new" / "deeper").iterdir()) == []      # the probe file is gone


def test_an_unwritable_folder_is_refused(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(preflight.tempfile, "mkstemp", read_only)
    with pytest.raises(UsageError, match="cannot write the results in .*Read-only file system"):
        preflight.check_output(tmp_path / "r.json", 10)


def test_too_little_room_is_refused(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(UsageError, match="MB free"):
        preflight.check_output(tmp_path / "r.json", 100)


@pytest.mark.parametrize("runner,name,value,message", [
    ("threads", "stack_size", "1", "at least 32768"),
    ("threads", "stack_size", "big", "whole number"),
    ("threads", "switch_interval_ms", "0", "above 0"),
    ("processes", "workers", "0", "at least 1"),
    ("threads-pool", "pool", "-3", "at least 1"),
])
def test_bad_runner_option_values(runner, name, value, message):
    with pytest.raises(UsageError, match=message):
        preflight.check_runner_options({runner: {name: value}})


def test_good_runner_option_values_pass():
    preflight.check_runner_options({"threads": {"stack_size": "65536", "switch_interval_ms": "50"},
                                    "processes": {"workers": "3"}, "threads-pool": {"pool": "8"}})


def test_every_registered_option_has_a_check():
    from concbench import registry
    names = {name for runner in registry.RUNNERS.values() for name, _ in runner.options + runner.fixed_options}
    assert names <= set(preflight.OPTION_CHECKS), names - set(preflight.OPTION_CHECKS)


def test_run_refuses_a_bad_option_before_any_server_starts(tmp_path):
    out = tmp_path / "r.json"
    done = subprocess.run([sys.executable, "-m", "concbench", "run", "--quick", "--runners", "threads",
                           "--scenarios", "echo", "-O", "threads:stack_size=1", "-o", str(out)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.strip() == "concbench: error: -O threads:stack_size=1: expected 0 or at least 32768, got 1"
    assert "concbench run:" not in done.stdout and not out.exists()


def test_run_refuses_an_existing_output_and_a_directory(tmp_path):
    existing = tmp_path / "old.json"
    existing.write_text("keep me")
    for output, message in ((existing, "exists"), (tmp_path, "is a directory")):
        done = subprocess.run([sys.executable, "-m", "concbench", "run", "--quick", "--runners", "asyncio",
                               "--scenarios", "echo", "-o", str(output)],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert existing.read_text() == "keep me"
