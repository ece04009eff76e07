"""What one measurement is: the load generator's outcome plus the server-side evidence, and its verdict.

It owns the validity rules (failed, client-bound, server-saturated) and the field names that
results files, tables and `load --json` share. Pure computation: no I/O.
"""
from __future__ import annotations

from .histogram import Histogram
from .latency import summarize

# A load generator whose cores were busier than this (softirq included) had no headroom:
# the figure may be the client's limit, not the server's.
CLIENT_BOUND_PCT = 90.0
# A server using at least this share of its cpus was saturated (the figure is its capacity).
SERVER_SATURATED_PCT = 90.0
# Open loop: achieved below this share of the offered rate means the server could not keep up.
KEEPING_UP_SHARE = 0.99


def loadgen_report(outcome) -> dict:
    """The load generator's own view of a run (the `load --json` contract)."""
    plan = outcome.plan
    window = outcome.window_s
    latency = summarize(outcome.latencies_ns)
    throughput = outcome.requests / window if window > 0 else 0.0
    cpu_pct = 100.0 * outcome.loadgen_cpu_s / window if window > 0 else 0.0
    errors = outcome.error_count
    if errors or outcome.requests == 0:
        status = "failed"
    else:
        status = "ok"
    report = {
        "status": status,
        "throughput_rps": throughput,
        "requests": outcome.requests,
        "window_s": window,
        "warmup_s": plan.warmup_s,
        "latency_p50_s": latency.get("p50", 0.0),
        "latency_p90_s": latency.get("p90", 0.0),
        "latency_p99_s": latency.get("p99", 0.0),
        "latency_p99_9_s": latency.get("p99.9", 0.0),
        "latency_max_s": latency.get("max", 0.0),
        "latency_mean_s": latency.get("mean", 0.0),
        "errors": errors,
        "error_kinds": {k: v for k, v in outcome.errors.items() if v},
        "first_error": outcome.first_error,
        "connections": plan.connections,
        "connected": outcome.connected,
        "ramped": outcome.ramped,
        "served_connections": outcome.served_connections,
        "starved_connections": outcome.starved_connections,
        "timeout_s": plan.timeout_s,
        "loadgen_cpu_s": outcome.loadgen_cpu_s,
        "loadgen_cpu_pct": cpu_pct,
        "loadgen_cores": ",".join(map(str, outcome.loadgen_cores)),
        "loadgen_core_busy_pct": outcome.loadgen_core_busy_pct,
        "client_bound": outcome.loadgen_core_busy_pct > CLIENT_BOUND_PCT,
        "latency_histogram": Histogram.from_values(outcome.latencies_ns).encode(),
        "mode": "open" if plan.open_loop else "closed",
    }
    if plan.open_loop:
        report.update(open_loop_report(outcome, throughput))
    return report


def open_loop_report(outcome, achieved: float) -> dict:
    """Offered versus achieved rate, uncorrected latency and our own timer's lateness."""
    plan = outcome.plan
    uncorrected = summarize(outcome.latencies_uncorrected_ns)
    lateness = summarize(outcome.lateness_ns)
    # Behind if the window ended with more than 1% of a window's requests still waiting for their slot:
    # a server catching up on a backlog can exceed the offered rate while still being behind.
    allowed_backlog = (1.0 - KEEPING_UP_SHARE) * plan.rate * outcome.window_s
    return {
        "offered_rate": plan.rate,
        "arrival": plan.arrival,
        "achieved_ratio": achieved / plan.rate,
        "schedule_backlog_end": outcome.backlog_end,
        "overloaded": achieved < KEEPING_UP_SHARE * plan.rate or outcome.backlog_end > allowed_backlog,
        "latency_uncorrected_p50_s": uncorrected.get("p50", 0.0),
        "latency_uncorrected_p99_s": uncorrected.get("p99", 0.0),
        "latency_uncorrected_p99_9_s": uncorrected.get("p99.9", 0.0),
        "latency_uncorrected_max_s": uncorrected.get("max", 0.0),
        "schedule_lateness_p99_s": lateness.get("p99", 0.0),
        "schedule_lateness_max_s": lateness.get("max", 0.0),
        "latency_uncorrected_histogram": Histogram.from_values(outcome.latencies_uncorrected_ns).encode(),
    }


def verdict(record: dict) -> str:
    """One word for tables: ok, failed, starved or client-bound."""
    if record["status"] != "ok":
        return "starved" if record.get("starved_connections") else "failed"
    if record.get("client_bound"):
        return "client-bound"
    if record.get("overloaded"):
        return "overloaded"
    return "ok"


def add_server_evidence(record: dict, server: dict, server_cpus: int) -> dict:
    """Merge the server sampler's figures into a load report; derives CPU per request and saturation."""
    record = dict(record)
    record.update(server)
    window = record["window_s"]
    cpu_s = server.get("server_cpu_s", 0.0)
    record["server_cpu_pct"] = 100.0 * cpu_s / window if window > 0 else 0.0
    record["server_cpu_per_request_s"] = cpu_s / record["requests"] if record["requests"] else 0.0
    record["server_saturated"] = record["server_cpu_pct"] >= SERVER_SATURATED_PCT * server_cpus
    record["server_cpu_count"] = server_cpus
    return record
