"""concbench.studies.repetitions: the stop rule stops early on stable synthetic data, goes on (and flags) unstable data,
keeps a level's runners interleaved, and keeps to its time budget. Fake measurements, fake clock."""
from concbench.studies.orchestrate import Case, schedule
from concbench.studies.repetitions import RepetitionPlan, mark_stability

RUNNERS = ["a", "b"]
CASES = [Case("echo", (("size", 64),), 100, runner) for runner in RUNNERS]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run(figure, minimum=3, maximum=6, budget_s=1000.0, cases=CASES):
    """Drive a plan as the run loop does: one record per item, the clock advancing 1 s per measurement."""
    clock, measurements = FakeClock(), []
    plan = RepetitionPlan(cases, minimum, maximum, budget_s, measurements,
                          lambda cs, n: schedule(cs, RUNNERS, n), clock)
    for rep, case in plan:
        clock.now += 1.0
        value = figure(case, rep)
        measurements.append((case, {"status": "ok" if value else "failed", "throughput_rps": value,
                                    "repetition": rep}))
    return plan, measurements


def reps_of(measurements, runner):
    return [record["repetition"] for case, record in measurements if case.runner == runner]


def test_stable_data_stops_at_the_minimum():
    plan, measurements = run(lambda case, rep: 10_000 + rep)
    assert len(measurements) == 6 and len(plan) == 6
    assert plan.stopped_by == "stable" and plan.extra_rounds == 0
    assert mark_stability(measurements) == 0
    assert all(record["case_unstable"] is False for _, record in measurements)


def test_unstable_data_goes_to_the_maximum_and_is_flagged():
    noisy = [10_000, 30_000, 15_000, 40_000, 12_000, 25_000]
    plan, measurements = run(lambda case, rep: noisy[rep] if case.runner == "b" else 10_000 + rep)
    assert plan.stopped_by == "maximum" and plan.extra_rounds == 3
    # the whole level is measured again, so a and b stay paired round by round
    assert reps_of(measurements, "a") == reps_of(measurements, "b") == [0, 1, 2, 3, 4, 5]
    assert len(plan) == len(measurements) == 12
    assert mark_stability(measurements) == 1
    flagged = {case.runner for case, record in measurements if record["case_unstable"]}
    assert flagged == {"b"}
    assert all("pin the server" in record["case_stability_hint"] for case, record in measurements
               if case.runner == "b")


def test_data_that_settles_stops_before_the_maximum():
    # the interval's half-width: +-19% after 3, +-10.3% after 4, +-7% after 5 repetitions
    settling = [10_000, 11_500, 10_500, 10_200, 10_300, 10_250, 10_100, 10_150]
    plan, measurements = run(lambda case, rep: settling[rep], maximum=8)
    assert plan.stopped_by == "stable" and plan.extra_rounds == 2
    assert reps_of(measurements, "a") == [0, 1, 2, 3, 4]


def test_the_time_budget_ends_the_extra_rounds():
    noisy = [10_000, 30_000, 15_000, 40_000, 12_000, 25_000]
    plan, measurements = run(lambda case, rep: noisy[rep], maximum=6, budget_s=3.0)
    assert plan.stopped_by == "time budget"
    assert len(measurements) == 6 + 3                    # 1 s a measurement: three fit in 3 s, a fourth would not
    assert len(plan) == len(measurements)


def test_fixed_repetitions_and_failed_cases_get_no_extra_rounds():
    plan, measurements = run(lambda case, rep: [10_000, 30_000, 15_000][rep], minimum=3, maximum=3)
    assert len(measurements) == 6 and plan.describe() == "3 repetitions (fixed: no stop rule)"
    plan, measurements = run(lambda case, rep: 0 if case.runner == "a" else [10_000, 30_000, 15_000, 9_000][rep % 4],
                             maximum=4)
    assert reps_of(measurements, "a") == [0, 1, 2] and reps_of(measurements, "b") == [0, 1, 2, 3]
    assert "extra round" in plan.describe()


def test_the_budget_goes_to_the_least_settled_level_first():
    cases = CASES + [Case("echo", (("size", 64),), 1000, runner) for runner in RUNNERS]
    fairly = [10_000, 11_000, 10_400, 10_900]                   # +-13% after 3: unstable, but the closer one
    wildly = [10_000, 30_000, 15_000, 40_000]
    plan, measurements = run(lambda case, rep: (wildly if case.connections == 1000 else fairly)[rep],
                             maximum=4, budget_s=2.0, cases=cases)
    assert plan.stopped_by == "time budget"
    extra = [case.connections for case, record in measurements if record["repetition"] == 3]
    assert extra == [1000, 1000]                                # both runners of the wild level, none of the other
