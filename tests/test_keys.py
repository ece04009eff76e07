"""The key registry and the result kinds: an unknown key is an error when written and harmless when read, every key
of every committed result file is registered, and docs/result-format.md is generated from the registries."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from concbench.results import format_doc, keys, kinds
from concbench.results.format import NotAResult, RunContext, load_measurements, record_metadata, write_suite
from concbench.results.summary_file import kind_of_file, write_summary
from concbench.studies.orchestrate import Case

REPOSITORY = Path(__file__).parent.parent
GOLDEN = REPOSITORY / "tests" / "golden" / "format1"
COMMITTED = sorted([*GOLDEN.glob("*.json"), *(REPOSITORY / "docs" / "results").glob("*.json"),
                    *(REPOSITORY / "results").glob("*.json")])


def passed_record(**extra) -> dict:
    return {"status": "ok", "repetition": 0, "throughput_rps": 1000.0, "requests": 500, "window_s": 0.5,
            "latency_p50_s": 0.001, "latency_p99_s": 0.002, "errors": 0, "error_kinds": {}, **extra}


def context() -> RunContext:
    return RunContext({"concbench_format": 1, "command": "concbench run (test)", "run_state": "complete"})


CASE = Case("echo", (("size", 64),), 2, "asyncio")


def test_writing_a_record_with_an_unknown_key_is_an_error_and_writes_nothing(tmp_path):
    with pytest.raises(keys.UnknownKey, match="'throughput_per_fortnight' is not registered"):
        record_metadata(passed_record(throughput_per_fortnight=1))
    path = tmp_path / "r.json"
    with pytest.raises(keys.UnknownKey):
        write_suite(path, context(), [(CASE, passed_record(throughput_per_fortnight=1))])
    assert not path.exists()
    with pytest.raises(keys.UnknownKey, match="'colour' is not registered"):
        write_suite(path, RunContext({"concbench_format": 1, "colour": "blue"}), [(CASE, passed_record())])


def test_a_value_its_check_refuses_is_an_error():
    with pytest.raises(ValueError, match="status is 'maybe', expected one of ok, failed"):
        record_metadata(passed_record(status="maybe"))
    with pytest.raises(ValueError, match="requests is -1, expected 0 or more"):
        record_metadata(passed_record(requests=-1))
    with pytest.raises(ValueError, match="mode is 'sideways'"):
        record_metadata(passed_record(mode="sideways"))


def test_loadgen_parts_reaches_the_file_and_what_is_never_written_says_why(tmp_path):
    path = tmp_path / "r.json"
    record = passed_record(loadgen_parts=2, measured_wall_s=1.5, params={"size": 64}, target="127.0.0.1:1",
                           scenario="echo", offered_rate=5.0, _pids=[1, 2])
    write_suite(path, context(), [(CASE, record)])
    written = load_measurements(path)[0]
    assert written["loadgen_parts"] == 2
    assert "params" not in written and "target" not in written and "_pids" not in written
    assert "offered_rate" not in written          # identity: written from the case (closed loop here), not the record
    assert set(keys.NOT_WRITTEN) == {"measured_wall_s", "params", "target"}
    assert all(reason for reason in keys.NOT_WRITTEN.values())


def test_reading_a_file_with_a_key_it_does_not_know_keeps_loading(tmp_path):
    data = json.loads((GOLDEN / "run-closed.json").read_text())
    data["benchmarks"][0]["runs"][0].setdefault("metadata", {})["written_by_a_newer_concbench"] = "yes"
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(data))
    records = load_measurements(path)
    assert any(r.get("written_by_a_newer_concbench") == "yes" for r in records)


def test_a_retired_key_still_loads_typed_but_is_no_longer_written(monkeypatch, tmp_path):
    retired = keys.Key("old_figure_s", float, "s", "record", "a figure no longer measured", retired=True)
    monkeypatch.setitem(keys.KEYS, "old_figure_s", retired)
    with pytest.raises(keys.UnknownKey, match="retired"):
        record_metadata(passed_record(old_figure_s=1.0))
    assert keys.record_types()["old_figure_s"] is float          # the reader still types it
    assert [k.name for k in keys.KEYS.values() if k.retired] == ["old_figure_s"]


def test_every_key_of_every_committed_result_file_is_registered():
    unknown = set()
    for path in COMMITTED:
        data = json.loads(path.read_text())
        if "benchmarks" not in data:
            continue
        suite = data.get("metadata", {})
        for bench in data["benchmarks"]:
            for run in bench["runs"]:
                unknown |= {k for k in {**suite, **bench.get("metadata", {}), **run.get("metadata", {})}
                            if keys.lookup(k) is None}
    assert not unknown
    assert not [k.name for k in keys.KEYS.values() if k.retired]    # no key has been retired yet


def test_every_key_this_pyperf_collects_is_registered_as_machine_metadata():
    from pyperf._collect_metadata import collect_metadata
    collected = set(collect_metadata())
    assert {k for k in collected if keys.lookup(k) is None} == set()
    assert {keys.lookup(k).origin for k in collected} <= {"machine", "context"}    # python_version: concbench's own


def test_every_key_is_described_and_the_record_types_are_today_s():
    for key in keys.KEYS.values():
        assert key.origin in keys.ORIGINS and key.meaning and key.type in (int, float, str, bool, dict), key.name
        assert (key.check is None) == (key.check_text == ""), key.name
    types = keys.record_types()
    assert types["throughput_rps"] is float and types["error_kinds"] is dict and types["client_bound"] is bool
    assert "scenario" not in types and "cpu_model_name" not in types       # identity, machine: typed by pyperf


def test_the_benchmark_key_accepts_exactly_the_kinds_markers():
    markers = {kind.benchmark for kind in kinds.KINDS.values() if kind.benchmark}
    check = keys.KEYS["benchmark"]
    assert all(check.problem(marker) is None for marker in markers)
    assert check.problem("something-else") is not None


def test_kinds_are_recognised_from_records_and_files():
    assert kinds.kind_of_record({}) is kinds.RUN
    assert kinds.kind_of_record({"measure": "instructions"}) is kinds.INSTRUCTIONS
    assert kinds.kind_of_record({"benchmark": "memory-idle"}) is kinds.MEMORY
    assert kinds.kind_of_record({"benchmark": "stream-backpressure"}) is kinds.BACKPRESSURE
    assert kinds.kind_of_record({"benchmark": "from-the-future"}) is None
    assert kinds.kind_of_records([{"benchmark": "memory-idle"}, {}]) is kinds.RUN
    assert kind_of_file(GOLDEN / "clients.json") is kinds.CLIENTS


def test_a_file_of_an_unknown_kind_is_refused_in_one_line(tmp_path):
    data = json.loads((GOLDEN / "memory.json").read_text())
    for bench in data["benchmarks"]:
        for run in bench["runs"]:
            if run.get("metadata", {}).get("benchmark"):
                run["metadata"]["benchmark"] = "from-the-future"
        if bench.get("metadata", {}).get("benchmark"):
            bench["metadata"]["benchmark"] = "from-the-future"
    if data.get("metadata", {}).get("benchmark"):
        data["metadata"]["benchmark"] = "from-the-future"
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(NotAResult, match="'from-the-future', which this concbench does not know"):
        kind_of_file(path)


def test_a_summary_with_an_unregistered_key_is_an_error(tmp_path):
    path = tmp_path / "clients.json"
    summary = json.loads((GOLDEN / "clients.json").read_text())
    write_summary(path, kinds.CLIENTS, summary)
    assert json.loads(path.read_text()) == summary
    with pytest.raises(ValueError, match="not registered in concbench.results.kinds: colour"):
        write_summary(tmp_path / "other.json", kinds.CLIENTS, {**summary, "colour": "blue"})
    assert not (tmp_path / "other.json").exists()


def test_the_format_page_is_generated_from_the_registries():
    page = format_doc.PAGE.read_text()
    assert format_doc.rendered(page) == page, "run: python -m concbench.results.format_doc"
    assert all(f"`{name}`" in page for name, key in keys.KEYS.items() if not key.prefix)
    assert all(f"| {kind} |" in page for kind in kinds.KINDS)
