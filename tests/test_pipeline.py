"""The one study pipeline with a fake study (no server, no load): slots measured in order and the ones already in the
file skipped, the file written after every measurement, an interrupt's exit code and state, a crash kept and said,
a capacity search's probes as one slot, and plan identities."""
from __future__ import annotations

import json
import os
import signal

import pytest

from concbench.errors import ExitCode
from concbench.studies import pipeline
from concbench.studies.plans import Destination


def fake_study(tmp_path, measure, order=None, done=(), **kwargs) -> pipeline.Study:
    order = order or [(rep, name) for rep in range(2) for name in pipeline.rotated(["a", "b"], rep)]
    sink = pipeline.JsonFile(tmp_path / "figures.json", lambda measured: {"seen": [s for s, _ in measured]})
    sink.done.update(done)
    return pipeline.Study("fake", order, measure, lambda rep, name: f"{rep}:{name}", lambda rep, name: name,
                          lambda record: record["status"], sink, lambda measured: ExitCode.OK, **kwargs)


def test_slots_are_measured_in_their_order_and_the_file_is_written_after_each(tmp_path):
    written = []

    def measure(name):
        if (tmp_path / "figures.json").exists():
            written.append(json.loads((tmp_path / "figures.json").read_text()))
        return {"status": "ok"}
    study = fake_study(tmp_path, measure, done={"0:b"})          # a resumed file already holds 0:b
    assert pipeline.run_study(study) == 0
    assert [(r["repetition"], r["slot"]) for _, r in study.measurements] == [(0, "0:a"), (1, "1:b"), (1, "1:a")]
    assert [w["seen"] for w in written] == [["a"], ["a", "b"]]
    final = json.loads((tmp_path / "figures.json").read_text())
    assert final == {"seen": ["a", "b", "a"], "run_state": "complete"}


def test_an_interrupt_keeps_the_measurements_marks_the_file_and_exits_128_plus_the_signal(tmp_path, capsys):
    def measure(name):
        if len(study.measurements) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return {"status": "ok"}
    study = fake_study(tmp_path, measure)
    assert pipeline.run_study(study) == 128 + signal.SIGTERM
    assert json.loads((tmp_path / "figures.json").read_text())["run_state"] == "interrupted after 2 of 4 (SIGTERM)"
    err = capsys.readouterr().err
    assert "concbench fake: SIGTERM received" in err and f"results: {tmp_path / 'figures.json'}" in err


def test_a_crash_keeps_what_was_measured_and_says_where(tmp_path, capsys):
    def measure(name):
        if len(study.measurements) == 3:
            raise RuntimeError("a bug")
        return {"status": "ok"}
    study = fake_study(tmp_path, measure, resumable=True)
    with pytest.raises(RuntimeError, match="a bug"):
        pipeline.run_study(study)
    assert json.loads((tmp_path / "figures.json").read_text())["run_state"] == "crashed after 3 of 4 (RuntimeError)"
    assert "concbench fake --resume" in capsys.readouterr().err


def test_a_slot_of_several_measurements_is_one_slot(tmp_path):
    def search(name, measure_one):
        return [(f"{name}@{rate}", measure_one(f"{name}@{rate}")) for rate in (1000, 2000)]
    study = fake_study(tmp_path, lambda probe: {"status": "ok"}, expand=search)
    pipeline.run_study(study)
    assert study.sink.count == 4 and len(study.measurements) == 8
    assert {r["slot"] for s, r in study.measurements if s.startswith("a@")} == {"0:a", "1:a"}


def test_a_different_plan_cannot_resume_a_file(tmp_path):
    from concbench.errors import UsageError
    from concbench.results.run_file import Previous
    previous = Previous(str(tmp_path / "r.json"), "abc", ["--levels", "5", "10"], "interrupted", {})
    with pytest.raises(UsageError, match=r"different plan.*concbench memory --levels 5 10"):
        pipeline.output_path("memory", Destination(previous=previous), tmp_path / "x.json", 3, "def")
    assert pipeline.output_path("memory", Destination(previous=previous), tmp_path / "x.json", 3, "abc") == \
        tmp_path / "r.json"


def test_plan_identity_changes_with_what_is_measured():
    same = pipeline.plan_identity(["0:a", "1:a"], {"levels": (5, 10)})
    assert same == pipeline.plan_identity(["0:a", "1:a"], {"levels": (5, 10)})
    assert same != pipeline.plan_identity(["0:a"], {"levels": (5, 10)})
    assert same != pipeline.plan_identity(["0:a", "1:a"], {"levels": (5, 20)})


def test_an_interrupt_while_concluding_says_the_measurements_are_all_there(tmp_path, capsys):
    def conclude(measured):
        os.kill(os.getpid(), signal.SIGINT)
        return ExitCode.OK
    study = fake_study(tmp_path, lambda name: {"status": "ok"})
    study.conclude = conclude
    assert pipeline.run_study(study) == 128 + signal.SIGINT
    assert json.loads((tmp_path / "figures.json").read_text())["run_state"] == "complete"
    assert f"after the last measurement; every measurement is in {tmp_path / 'figures.json'}" in capsys.readouterr().err


def test_a_summary_of_a_kind_is_checked_in_full_once_the_study_has_concluded(tmp_path):
    """ceiling and clients write their summary through their kind: while measuring (and when the last slot is done)
    it may lack the figures the conclusion adds; the concluded file must carry them, and an unregistered key is
    refused at any time."""
    from concbench.results import kinds
    from concbench.results.summary_file import read_summary
    path = tmp_path / "clients.json"
    sink = pipeline.JsonFile(path, lambda measured: {"command": "concbench clients", "medians": {"x": len(measured)}},
                             kinds.CLIENTS)
    conclusion = {}

    def conclude(measured):
        conclusion["reference_client"] = "wrk"
        sink.finish("complete", concluded=True)
        return ExitCode.OK
    sink.summarize = lambda measured, base=sink.summarize: {**base(measured), **conclusion}
    order = [(0, "a"), (0, "b")]
    study = pipeline.Study("clients", order, lambda name: {"status": "ok"}, lambda rep, name: name,
                           lambda rep, name: name, lambda record: "ok", sink, conclude)
    assert pipeline.run_study(study) == ExitCode.OK
    kind, summary = read_summary(path)
    assert kind is kinds.CLIENTS and summary["reference_client"] == "wrk" and summary["run_state"] == "complete"
    bad = pipeline.JsonFile(tmp_path / "bad.json", lambda measured: {"not_a_key": 1}, kinds.CLIENTS)
    bad.measurements.append(("a", {}))
    with pytest.raises(ValueError, match="not_a_key"):
        bad.finish("running: 1 measured")
