"""Validity rules: failed, starved, client-bound and saturated are decided here, from the evidence."""
from __future__ import annotations

from array import array

from concbench.clients.loadgen import LoadOutcome, LoadPlan
from concbench.results.measurement import add_server_evidence, loadgen_report, verdict


def outcome(requests=1000, errors=0, busy=50.0, served=10, connections=10) -> LoadOutcome:
    result = LoadOutcome(LoadPlan("127.0.0.1", 1, connections, 0.1, 1.0))
    result.window_s = 1.0
    result.requests = requests
    result.latencies_ns = array("q", [100_000] * requests)
    result.errors["timeout"] = errors
    result.loadgen_core_busy_pct = busy
    result.loadgen_cpu_s = busy / 100
    result.served_connections = served
    result.connected = connections
    return result


def test_clean_run_is_ok_with_figures():
    report = loadgen_report(outcome())
    assert report["status"] == "ok" and verdict(report) == "ok"
    assert report["throughput_rps"] == 1000.0
    assert report["latency_p99_s"] == 100e-6


def test_any_error_fails_the_run():
    report = loadgen_report(outcome(errors=1))
    assert report["status"] == "failed" and verdict(report) == "failed"


def test_starved_connections_are_named():
    report = loadgen_report(outcome(errors=7, served=3))
    assert report["starved_connections"] == 7
    assert verdict(report) == "starved"


def test_no_verified_reply_is_a_failure_even_without_errors():
    assert loadgen_report(outcome(requests=0))["status"] == "failed"


def test_busy_load_generator_core_marks_client_bound():
    assert loadgen_report(outcome(busy=95.0))["client_bound"] is True
    assert verdict(loadgen_report(outcome(busy=95.0))) == "client-bound"
    assert loadgen_report(outcome(busy=85.0))["client_bound"] is False


def test_server_evidence_gives_cpu_per_request_and_saturation():
    report = add_server_evidence(loadgen_report(outcome()), {"server_cpu_s": 0.95, "server_rss_bytes": 1}, 1)
    assert abs(report["server_cpu_pct"] - 95.0) < 1e-9
    assert abs(report["server_cpu_per_request_s"] - 0.95e-3) < 1e-12
    assert report["server_saturated"] is True
    two_cores = add_server_evidence(loadgen_report(outcome()), {"server_cpu_s": 0.95}, 2)
    assert two_cores["server_saturated"] is False


def test_the_harnesss_own_sampling_is_not_the_load_generators_work():
    """The orchestrator samples the server from the load generator's core: its CPU in the window leaves the busy
    share, so a core made busy by sampling a big server is not called client-bound; what was taken out is kept."""
    report = loadgen_report(outcome(busy=91.0))
    report["loadgen_cores"] = "1"
    assert report["client_bound"] is True
    adjusted = add_server_evidence(report, {"server_cpu_s": 0.5, "harness_cpu_s": 0.5}, 1)
    assert abs(adjusted["loadgen_core_busy_pct"] - 41.0) < 1e-9 and adjusted["harness_cpu_s"] == 0.5
    assert adjusted["client_bound"] is False and verdict(adjusted) == "ok"
    still = add_server_evidence(loadgen_report(outcome(busy=99.0)), {"server_cpu_s": 0.5, "harness_cpu_s": 0.02}, 1)
    assert still["client_bound"] is True
