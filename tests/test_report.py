"""The report renders from a result file alone: a non-empty PNG per scenario, summary.md, index.html."""
from __future__ import annotations

import subprocess
import sys

from concbench.analysis.report import write_report

from .test_results import result_file  # noqa: F401  (the fixture: a synthetic result file)


def test_report_renders_every_chart(result_file, tmp_path):  # noqa: F811
    paths = write_report(result_file, tmp_path / "reports")
    index, summary, *charts = paths
    assert charts and all(c.suffix == ".png" and c.stat().st_size > 10_000 for c in charts)
    assert all(c.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for c in charts)
    text = summary.read_text()
    assert "asyncio" in text and "FAILED" in text and "7/10 starved" in text
    assert "data:image/png;base64," in index.read_text()
    assert any(c.name.endswith("latency-spectrum.png") for c in charts)       # from the stored histograms
    assert "Verdicts (throughput" in text and "srv PSS" in text


def test_report_command_refuses_a_foreign_file(tmp_path):
    foreign = tmp_path / "foreign.json"
    foreign.write_text("{}")
    done = subprocess.run([sys.executable, "-m", "concbench", "report", str(foreign)],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "not a readable pyperf result file" in done.stderr or "not a concbench result" in done.stderr


def test_a_scenario_without_parameters_is_named_without_empty_brackets():
    from concbench.analysis.charts import scenario_label
    assert scenario_label("http", ()) == "http"
    assert scenario_label("echo", (("size", 64),)) == "echo (size=64)"
