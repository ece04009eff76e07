"""concbench.analysis.palette and the charts' axes: a runner keeps its colour across charts, a family shares a hue,
log axes get 1-2-5 labelled ticks, and one outlier does not flatten a panel."""
import colorsys

from concbench.analysis.charts import log_ticks, outlier_limit, runner_colours
from concbench.analysis.palette import family_of, runner_colour
from concbench.registry import RUNNERS


def hue(rgb):
    return round(colorsys.rgb_to_hls(*rgb)[0], 3)


def test_a_runner_has_the_same_colour_in_every_chart_whatever_else_is_drawn():
    echo = runner_colours(["asyncio", "gevent", "threads", "tornado"])
    http = runner_colours(["tornado", "tornado-web", "gevent-pywsgi", "asyncio"])
    backend = runner_colours(["threads-pool", "processes-pool", "tornado"])
    assert echo["tornado"] == http["tornado"] == backend["tornado"]
    assert echo["asyncio"] == http["asyncio"]


def test_a_family_shares_a_hue_and_its_variants_are_shades():
    for variant in ("asyncio-streams", "asyncio-uvloop"):
        assert hue(runner_colour(variant)) == hue(runner_colour("asyncio"))
        assert runner_colour(variant) != runner_colour("asyncio")
    assert hue(runner_colour("tornado-web")) == hue(runner_colour("tornado"))
    bases = [name for name, runner in RUNNERS.items() if not runner.variant_of]
    assert len({hue(runner_colour(name)) for name in bases}) == len(bases)       # families told apart
    members = [name for name in RUNNERS if family_of(name, RUNNERS) == "threads"]
    assert len({runner_colour(name) for name in members}) == len(members)        # variants told apart


def test_a_runner_added_later_gets_its_family_colour_without_a_change_here():
    assert family_of("gevent-newserver", RUNNERS) == "gevent"
    assert hue(runner_colour("gevent-newserver")) == hue(runner_colour("gevent"))
    assert runner_colour("trio") == runner_colour("trio")                         # unknown: stable by name


def test_log_ticks_are_1_2_5_and_never_fewer_than_three():
    assert log_ticks(0.9, 1100) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    narrow = log_ticks(0.21, 0.45)                                              # the cpu spectrum's old single tick
    assert len(narrow) >= 3 and all(0.21 <= t <= 0.45 for t in narrow)


def test_an_outlier_cuts_the_axis_and_ordinary_spreads_do_not():
    assert outlier_limit([0.6, 0.9, 3.2, 5.6, 300.0]) == 1.6 * 5.6
    assert outlier_limit([10, 20, 40]) is None
    assert outlier_limit([1, 100]) is None                                       # two bars: nothing to squeeze


def test_drawn_charts_use_the_runner_colour(tmp_path, monkeypatch):
    """Draw the against-concurrency chart and the spectrum of one result; every line of a runner has its colour."""
    import matplotlib.colors

    from concbench.analysis import charts
    from concbench.results.format import load_measurements
    from tests.test_html_page import write_two_level_result

    records = load_measurements(write_two_level_result(tmp_path))
    figures = []
    monkeypatch.setattr(charts.plt, "close", figures.append)
    charts.draw_scenario(records, "echo", (("size", 64),), tmp_path / "a.png")
    charts.draw_spectrum(records, "echo", (("size", 64),), 100, tmp_path / "b.png")
    seen = {}
    for figure in figures:
        for ax in figure.axes:
            for line in ax.get_lines():
                runner = line.get_label().split(" ")[0]
                if runner in ("asyncio", "gevent"):
                    seen.setdefault(runner, set()).add(matplotlib.colors.to_hex(line.get_color()))
    assert seen == {runner: {matplotlib.colors.to_hex(runner_colour(runner))} for runner in ("asyncio", "gevent")}
