"""Strict reading: a result file of the wrong shape, or of a newer format, is refused in one line naming the file
and the problem (show/report exit 2, compare exit 3), never a traceback and never a verdict."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from concbench.results.format import NotAResult, load_measurements

from .test_results import result_file, ok_record, failed_record  # noqa: F401  (fixture and records)


def edited(tmp_path, source, change, name: str = "edited") -> str:
    data = json.loads(open(source).read())
    change(data)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return str(path)


def every_run(data):
    for bench in data["benchmarks"]:
        for run in bench["runs"]:
            yield bench, run


def every_metadata(data):
    yield data.setdefault("metadata", {})
    for bench, run in every_run(data):
        yield bench.setdefault("metadata", {})
        yield run.setdefault("metadata", {})


def set_format(version):
    def change(data):
        for meta in every_metadata(data):
            if "concbench_format" in meta:
                meta["concbench_format"] = version
    return change


def drop_key(key):
    def change(data):
        for meta in every_metadata(data):
            meta.pop(key, None)
    return change


def text_for_number(key):
    def change(data):
        for meta in every_metadata(data):
            if key in meta:
                meta[key] = "many"
    return change


CASES = {
    "newer format": (set_format(99), "upgrade concbench"),
    "top level list": (lambda data: (data.clear(), data.update(benchmarks=None)), "'benchmarks' is null"),
    "no status": (drop_key("status"), "has no 'status'"),
    "no runner": (drop_key("runner"), "has no 'runner'"),
    "text for a number": (text_for_number("offered_connections"), "expected a number"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_malformed_files_are_refused_in_one_line(tmp_path, result_file, kind):  # noqa: F811
    change, message = CASES[kind]
    path = edited(tmp_path, result_file, change)
    with pytest.raises(NotAResult, match=message) as caught:
        load_measurements(path)
    assert str(caught.value).startswith(path) and "\n" not in str(caught.value)


@pytest.mark.parametrize("content,message", [("[]", "the top level is a list"), ("null", "the top level is null"),
                                              ('{"benchmarks": [1]}', "benchmark 1 is int")])
def test_valid_json_of_the_wrong_shape(tmp_path, content, message):
    path = tmp_path / "shape.json"
    path.write_text(content)
    with pytest.raises(NotAResult, match=message):
        load_measurements(path)


def test_a_directory_is_not_a_result(tmp_path):
    with pytest.raises(NotAResult, match="is a directory"):
        load_measurements(tmp_path)


def concbench(*args):
    return subprocess.run([sys.executable, "-m", "concbench", *map(str, args)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_commands_exit_2_or_3_without_a_traceback_or_verdict(tmp_path, result_file):  # noqa: F811
    no_status = edited(tmp_path, result_file, drop_key("status"), "no-status")
    newer = edited(tmp_path, result_file, set_format(99), "newer")
    for path, message in ((no_status, "has no 'status'"), (newer, "upgrade concbench")):
        for command, code in (("show", 2), ("report", 2)):
            done = concbench(command, path, *(["--output", tmp_path / "reports"] if command == "report" else []))
            assert done.returncode == code, done.stderr
            assert message in done.stderr and "Traceback" not in done.stderr
            assert len(done.stderr.strip().splitlines()) == 1
        done = concbench("compare", result_file, path)
        assert done.returncode == 3, done.stdout + done.stderr         # bad input, not a regression (1)
        assert message in done.stderr and "Traceback" not in done.stderr
        assert "regression" not in done.stdout.lower()


@pytest.mark.parametrize("bad", ["garbage", -1, 1e300])
def test_a_damaged_value_anywhere_is_refused_or_read_never_a_traceback(tmp_path, result_file, bad):  # noqa: F811
    """Every metadata key of the measurement runs in turn gets a wrong value: the file is either refused as
    NotAResult, or the table and compare work on it (compare may say BadInput: one line, exit 3)."""
    from concbench.analysis.compare import compare_records, parse_thresholds
    from concbench.analysis.table import summary_table
    from concbench.errors import BadInput
    good = load_measurements(result_file)
    keys = sorted({k for r in good for k in r})
    for i, key in enumerate(keys):
        def change(data, key=key):
            for meta in every_metadata(data):
                if key in meta:
                    meta[key] = bad
        path = edited(tmp_path, result_file, change, f"damaged-{i}")
        try:
            records = load_measurements(path)
        except NotAResult as exc:
            assert "\n" not in str(exc)
            continue
        summary_table(path)
        try:
            compare_records(good, records, parse_thresholds(None), None)
        except BadInput as exc:
            assert "\n" not in str(exc)
