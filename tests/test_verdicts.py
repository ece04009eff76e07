"""concbench.analysis.verdicts on synthetic repetitions with known answers: ratios, intervals, the stop rule, sentences."""
import math

import pytest

from concbench.analysis import verdicts as v


def reps(*values):
    return dict(enumerate(values))


def test_a_2x_difference_is_stated_as_about_2x_with_an_interval_around_it():
    fast = reps(20_000, 20_400, 19_700, 20_100)
    slow = reps(10_050, 10_100, 9_900, 10_000)
    r = v.ratio_interval(fast, slow)
    assert r.paired and r.n == 4
    assert 1.95 < r.ratio < 2.05
    assert r.low < r.ratio < r.high
    assert 1.85 < r.low and r.high < 2.15
    assert r.clear
    assert v.format_ratio(r, "slow").startswith("2.0")
    assert "x slow (" in v.format_ratio(r, "slow")


def test_a_noisy_pair_is_no_clear_difference():
    a = reps(30_000, 55_000, 41_000)
    b = reps(52_000, 31_000, 39_000)
    r = v.ratio_interval(a, b)
    assert r.low < 1 < r.high
    assert not r.clear
    level = v.level_verdict(100, {"a": a, "b": b})
    assert "no clear difference" in level.line()
    assert level.ties() == [level.others[0][0]]


def test_unpaired_when_the_repetitions_differ_welch_interval():
    fast = {0: 2000.0, 1: 2010.0, 2: 1990.0, 3: 2005.0}
    slow = {0: 1000.0, 1: 1004.0, 2: 996.0}
    r = v.ratio_interval(fast, slow)
    assert not r.paired
    assert r.low < 2 < r.high and r.clear


def test_pairing_removes_shared_round_noise():
    # both runners slow down together in round 1 (the machine was busy): paired, the ratio is exact
    fast = reps(2000, 1000, 3000)
    slow = reps(1000, 500, 1500)
    r = v.ratio_interval(fast, slow)
    assert r.paired and math.isclose(r.ratio, 2.0) and math.isclose(r.low, 2.0) and math.isclose(r.high, 2.0)


def test_too_few_repetitions_give_no_ratio():
    assert v.ratio_interval(reps(10.0), reps(5.0, 5.1)) is None
    level = v.level_verdict(1, {"a": reps(10.0, 10.1), "b": reps(5.0)})
    assert "too few passing repetitions to compare b" in level.line()


def test_t_quantile_is_conservative_between_tabled_values():
    assert v.t_quantile(2) == pytest.approx(4.303)
    assert v.t_quantile(21.5) == v.T_975[20]
    assert v.t_quantile(0.5) == math.inf


def test_stop_rule_stops_on_stable_data_and_flags_unstable_data():
    assert v.is_stable([10_000, 10_100, 9_950])                 # CV ~1%: stable after 3
    assert not v.is_stable([27_702, 68_407, 45_000])            # the asyncio-streams spread
    assert not v.is_stable([10_000])                            # one figure says nothing about its spread
    assert v.relative_half_width([100, 100, 100]) == 0


def test_level_verdict_names_the_best_failed_unstable_and_client_bound():
    level = v.level_verdict(1000, {"threads": reps(45_000, 46_000, 47_000), "tornado": reps(23_000, 23_500, 23_600),
                                   "gevent": reps(20_000, 60_000, 35_000)}, failed=["processes"],
                            client_bound=["threads"])
    assert level.best == "threads"
    line = level.line()
    assert line.startswith("threads leads: 1.9") and "x tornado (" in line
    assert "failed: processes" in line and "unstable: gevent" in line and "lower bound" in line


def records(runner, values, connections=100, scenario="echo", status="ok"):
    return [{"scenario": scenario, "runner": runner, "offered_connections": connections, "param_size": 64,
             "status": status, "repetition": i, "throughput_rps": value} for i, value in enumerate(values)]


def test_sentences_and_lines_from_records():
    data = (records("asyncio", [62_076, 70_000, 73_687]) + records("gevent", [34_363, 38_000, 41_211])
            + records("threads", [61_000, 72_000, 68_000]) + records("processes", [0, 0, 0], status="failed"))
    lines = v.verdict_lines(data, lambda s, p: "echo of 64 bytes")
    assert lines[0].startswith("echo of 64 bytes: at 100 connections ")
    assert "no clear difference" in lines[0] or "lead with no clear difference" in lines[0]
    assert "gevent (" in lines[1] and "failed: processes" in lines[1]
    text = v.verdict_text(data, lambda s, p: "echo")
    assert "95% interval" in text
    # a spread of about +-9% over 3 repetitions is too wide for the +-10% stop rule at n=3 (t = 4.3)
    assert [case[3] for case in v.unstable_cases(data)] == ["asyncio", "gevent", "threads"]


def test_clear_winner_sentence():
    data = records("a", [20_000, 20_200, 19_900]) + records("b", [10_000, 10_100, 9_900])
    sentence = v.verdict_lines(data, lambda s, p: "echo")[0]
    assert sentence == "echo: at 100 connections a is clearly fastest, at least " + \
        v.figure(v.ratio_interval(reps(20_000, 20_200, 19_900), reps(10_000, 10_100, 9_900)).low) + "x the next."
