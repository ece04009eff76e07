"""The HTML report as a browser draws it: headless Chromium screenshots it at 800 px (non-empty, not blank).
Skipped only where chromium is absent (.ci/run installs it)."""
import pytest

from concbench.analysis.report import write_report
from concbench.analysis.screenshot import find_browser, screenshot

from .test_results import result_file  # noqa: F401  (the fixture: a synthetic result file)


@pytest.mark.skipif(find_browser() is None, reason="no chromium on PATH (apt-get install chromium)")
def test_the_report_page_screenshots_at_800_px(result_file, tmp_path):  # noqa: F811
    index = write_report(result_file, tmp_path / "reports")[0]
    page = index.read_text()
    assert page.index("<h2>Verdicts</h2>") < page.index("<table") < page.index("<h2>Charts</h2>")   # verdicts first
    png = screenshot(index, tmp_path / "shot.png", 800, 1200)
    from PIL import Image
    with Image.open(png) as image:
        assert image.size == (800, 1200)
        colours = image.convert("L").getextrema()
    assert png.stat().st_size > 20_000 and colours[0] < 64 < 200 < colours[1]     # text on a light page
