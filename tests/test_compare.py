"""`concbench compare`: verdicts on synthetic result files with known differences, exit codes, --normalize,
the memory floor, and bad input (exit 3, one line). Figures are drawn with fixed seeds; nothing is timed."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyperf
import pytest

from concbench.analysis.compare import FAILED_IN_HEAD, NO_CHANGE, NO_CLEAR_CHANGE, REGRESSION, TOO_NOISY, compare_records
from concbench.studies.orchestrate import Case
from concbench.studies.profiles import PROFILES
from concbench.results.format import RunContext, load_measurements, write_suite

REPETITIONS = 5


def record(rep: int, rps: float, p50: float = 1e-4, p99: float = 5e-4, pss: int = 26_000_000,
           status: str = "ok") -> dict:
    return {"status": status, "repetition": rep, "measured_wall_s": 2.5, "throughput_rps": rps,
            "requests": int(rps * 1.5), "window_s": 1.5, "latency_p50_s": p50, "latency_p99_s": p99,
            "errors": 0 if status == "ok" else 3, "error_kinds": {} if status == "ok" else {"timeout": 3},
            "connections": 10, "server_rss_bytes": 30_000_000, "server_pss_bytes": pss,
            "first_error": "" if status == "ok" else "timeout: no complete reply within 2 s"}


def write_result(path, figures: dict[str, list[dict]], connections: int = 10) -> str:
    """figures: runner -> records (one per repetition) for echo size=64 at `connections`."""
    context = RunContext.collect(PROFILES["quick"], list(figures), ["echo"], (0,), (1,), {}, ["concbench", "run"])
    write_suite(path, context, [(Case("echo", (("size", 64),), connections, runner), rec)
                                for runner, recs in figures.items() for rec in recs])
    return str(path)


def noisy(rng, centre: float, relative_noise: float, n: int = REPETITIONS) -> list[float]:
    return list(centre * (1 + relative_noise * rng.standard_normal(n)))


def records_from(rng, rps: float, rps_noise: float, latency_noise: float = 0.01) -> list[dict]:
    return [record(rep, rps_value, p50, p99) for rep, (rps_value, p50, p99) in enumerate(zip(
        noisy(rng, rps, rps_noise), noisy(rng, 1e-4, latency_noise), noisy(rng, 5e-4, latency_noise)))]


def concbench(*args):
    return subprocess.run([sys.executable, "-m", "concbench", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def rows_of(report: dict, metric: str) -> list[dict]:
    return [row for row in report["rows"] if row["metric"] == metric]


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_a_25_percent_slowdown_is_a_regression(tmp_path, rng):
    base = write_result(tmp_path / "base.json", {"asyncio": records_from(rng, 20_000, 0.01)})
    head = write_result(tmp_path / "head.json", {"asyncio": records_from(rng, 15_000, 0.01)})
    done = concbench("compare", base, head, "--json", str(tmp_path / "cmp.json"))
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((tmp_path / "cmp.json").read_text())
    [throughput] = rows_of(report, "throughput")
    assert throughput["verdict"] == REGRESSION
    assert throughput["ratio"] == pytest.approx(0.75, abs=0.02)
    assert throughput["ci_low"] <= throughput["ratio"] <= throughput["ci_high"] < 0.9
    # memory is the same figure in both files: "no change" (identical figures are never judged by an interval)
    assert {row["verdict"] for row in report["rows"] if row["metric"] != "throughput"} <= {NO_CLEAR_CHANGE, NO_CHANGE}
    assert done.stdout.strip().splitlines()[-1].endswith("exit 1 (regression)")


def test_two_sets_from_one_distribution_pass(tmp_path, rng):
    base = write_result(tmp_path / "base.json", {"asyncio": records_from(rng, 20_000, 0.01)})
    head = write_result(tmp_path / "head.json", {"asyncio": records_from(rng, 20_000, 0.01)})
    done = concbench("compare", base, head)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "regression" not in done.stdout.split("concbench compare:")[-1]


def test_very_noisy_sets_are_inconclusive(tmp_path, rng):
    base = write_result(tmp_path / "base.json", {"asyncio": records_from(rng, 20_000, 0.4)})
    head = write_result(tmp_path / "head.json", {"asyncio": records_from(rng, 20_000, 0.4)})
    done = concbench("compare", base, head, "--json", str(tmp_path / "cmp.json"))
    assert done.returncode == 2, done.stdout + done.stderr
    [throughput] = rows_of(json.loads((tmp_path / "cmp.json").read_text()), "throughput")
    assert throughput["verdict"] == TOO_NOISY
    assert throughput["ci_low"] < 0.9 and throughput["ci_high"] > 1.1


def test_fewer_than_two_passing_repetitions_is_too_noisy_and_says_which_side(tmp_path, rng):
    base = load_measurements(write_result(tmp_path / "base.json", {"asyncio": records_from(rng, 20_000, 0.01)}))
    head_records = [record(0, 20_000)] + [record(rep, 0.0, status="failed") for rep in (1, 2)]
    head = load_measurements(write_result(tmp_path / "head.json", {"asyncio": head_records}))
    [throughput] = rows_of(compare_records(base, head), "throughput")
    assert throughput["verdict"] == TOO_NOISY
    assert "base 5, head 1" in throughput["note"] and "failed repetitions: base 0, head 2" in throughput["note"]


def test_a_case_failing_in_head_is_a_regression(tmp_path, rng):
    base = write_result(tmp_path / "base.json", {"processes": records_from(rng, 20_000, 0.01)})
    head = write_result(tmp_path / "head.json", {"processes": [record(r, 0.0, status="failed") for r in range(3)]})
    done = concbench("compare", base, head)
    assert done.returncode == 1
    assert f"**{FAILED_IN_HEAD}**" in done.stdout


def test_markdown_has_a_header_and_a_verdict_per_row(tmp_path, rng):
    base = write_result(tmp_path / "base.json", {"asyncio": records_from(rng, 20_000, 0.01),
                                                 "threads": records_from(rng, 30_000, 0.01)})
    head = write_result(tmp_path / "head.json", {"asyncio": records_from(rng, 20_000, 0.01),
                                                 "threads": records_from(rng, 30_000, 0.01)})
    table = tmp_path / "table.md"
    done = concbench("compare", base, head, "--markdown", str(table))
    assert done.returncode == 0
    assert table.read_text() == done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert rows[0] == "| case | metric | base median | head median | ratio | 95% CI | verdict |"
    assert rows[1].startswith("|---")
    body = rows[2:]
    assert len(body) == 2 * 4   # two runners x throughput, p50, p99, memory
    assert all(line.rstrip(" |").rsplit("|", 1)[-1].strip().startswith((NO_CLEAR_CHANGE, NO_CHANGE)) for line in body)


def test_normalize_divides_by_the_reference_runner(tmp_path, rng):
    # HEAD's machine is twice as slow for every runner: raw figures regress, normalized ones do not.
    base = write_result(tmp_path / "base.json", {"asyncio": records_from(rng, 20_000, 0.01),
                                                 "threads": records_from(rng, 30_000, 0.01)})
    head = write_result(tmp_path / "head.json", {"asyncio": records_from(rng, 10_000, 0.01),
                                                 "threads": records_from(rng, 15_000, 0.01)})
    assert concbench("compare", base, head).returncode == 1
    done = concbench("compare", base, head, "--normalize", "asyncio", "--json", str(tmp_path / "cmp.json"))
    assert done.returncode == 0, done.stdout
    report = json.loads((tmp_path / "cmp.json").read_text())
    assert report["normalized_by"] == "asyncio"
    assert {row["case"] for row in report["rows"]} == {"echo size=64 c=10 threads"}   # the yardstick is not compared
    [throughput] = rows_of(report, "throughput")
    assert throughput["base_median"] == pytest.approx(1.5, rel=0.03)
    assert throughput["head_median"] == pytest.approx(1.5, rel=0.03)
    assert throughput["verdict"] == NO_CLEAR_CHANGE


def test_normalize_by_an_absent_runner_is_bad_input(tmp_path, rng):
    base = write_result(tmp_path / "base.json", {"asyncio": records_from(rng, 20_000, 0.01)})
    done = concbench("compare", base, base, "--normalize", "gevent")
    assert done.returncode == 3
    assert "gevent" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("pss_head, verdict", [(10_800, NO_CLEAR_CHANGE), (12_000, REGRESSION)])
def test_memory_changes_under_1_kib_never_count(tmp_path, pss_head, verdict):
    # +8% is past the 5% threshold, but 800 bytes is under the 1 KiB floor; +2000 bytes is not.
    base = load_measurements(write_result(tmp_path / "base.json",
                                          {"asyncio": [record(r, 20_000, pss=10_000 + r) for r in range(3)]}))
    head = load_measurements(write_result(tmp_path / "head.json",
                                          {"asyncio": [record(r, 20_000, pss=pss_head + r) for r in range(3)]}))
    [memory] = rows_of(compare_records(base, head), "memory")
    assert memory["ci_low"] > 1.05
    assert memory["verdict"] == verdict


def test_threshold_override(tmp_path, rng):
    base = write_result(tmp_path / "base.json", {"asyncio": records_from(rng, 20_000, 0.01)})
    head = write_result(tmp_path / "head.json", {"asyncio": records_from(rng, 15_000, 0.01)})
    assert concbench("compare", base, head, "--threshold", "throughput=40").returncode == 0
    assert concbench("compare", base, head, "--threshold", "nonsense=4").returncode == 3


def test_output_is_deterministic(tmp_path, rng):
    base = write_result(tmp_path / "base.json", {"asyncio": records_from(rng, 20_000, 0.2)})
    head = write_result(tmp_path / "head.json", {"asyncio": records_from(rng, 20_000, 0.2)})
    assert compare_records(load_measurements(base), load_measurements(head)) == \
        compare_records(load_measurements(base), load_measurements(head))


def bad_inputs(tmp_path, rng) -> dict[str, tuple[str, str]]:
    good = write_result(tmp_path / "good.json", {"asyncio": records_from(rng, 20_000, 0.01)})
    other_level = write_result(tmp_path / "other.json", {"asyncio": records_from(rng, 20_000, 0.01)}, connections=1)
    truncated = tmp_path / "truncated.json"
    truncated.write_text(open(good).read()[:700])
    plain_json = tmp_path / "plain.json"
    plain_json.write_text(json.dumps({"benchmarks": [{"name": "x", "value": 1}]}))
    plain_pyperf = tmp_path / "pyperf.json"
    pyperf.BenchmarkSuite([pyperf.Benchmark([pyperf.Run([1.0], metadata={"name": "x"}, collect_metadata=False)])]
                          ).dump(str(plain_pyperf))
    return {"truncated": (str(truncated), "not a readable"), "plain JSON": (str(plain_json), "not a readable"),
            "plain pyperf": (str(plain_pyperf), "not a concbench result"),
            "missing": (str(tmp_path / "missing.json"), "no such file"),
            "no shared case": (other_level, "share no case"), "good": (good, "")}


@pytest.mark.parametrize("kind", ["truncated", "plain JSON", "plain pyperf", "missing", "no shared case"])
def test_bad_input_exits_3_with_one_line(tmp_path, rng, kind):
    files = bad_inputs(tmp_path, rng)
    path, message = files[kind]
    done = concbench("compare", files["good"][0], path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_an_interval_straddling_the_regression_threshold_is_inconclusive():
    from concbench.analysis.compare import IMPROVEMENT, METRICS, judge
    throughput, p99 = METRICS["throughput"], METRICS["p99"]
    assert judge(throughput, 0.88, (0.80, 0.95), -120.0)[0] == TOO_NOISY        # could be -20%, could be -5%
    assert judge(p99, 7.5, (1.15, 15.2), 1.0)[0] == TOO_NOISY                     # the helper's example
    assert judge(throughput, 0.85, (0.80, 0.88), -150.0)[0] == REGRESSION         # wholly past: confirmed
    assert judge(throughput, 1.02, (0.95, 1.08), 20.0)[0] == NO_CLEAR_CHANGE      # wholly inside
    assert judge(throughput, 1.12, (1.05, 1.2), 120.0)[0] == NO_CLEAR_CHANGE      # may be better, never worse
    assert judge(throughput, 1.3, (1.2, 1.4), 300.0)[0] == IMPROVEMENT
