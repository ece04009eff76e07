"""What one measurement is: the load generator's outcome plus the server-side evidence, and its verdict.

It owns the validity rules (failed, client-bound, server-saturated) and the field names that
results files, tables and `load --json` share. Pure computation: no I/O.
"""
from __future__ import annotations

from concbench.results.histogram import Histogram
from concbench.results.latency import summarize

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
        "reconnects": outcome.reconnects,
        "served_connections": outcome.served_connections,
        "verified_replies_total": outcome.verified_replies_total,
        "starved_connections": outcome.starved_connections,
        "timeout_s": plan.timeout_s,
        "loadgen_cpu_s": outcome.loadgen_cpu_s,
        "loadgen_cpu_pct": cpu_pct,
        "loadgen_cores": ",".join(map(str, outcome.loadgen_cores)),
        "loadgen_core_busy_pct": outcome.loadgen_core_busy_pct,
        "loadgen_idle_polling_s": outcome.loadgen_idle_polling_s,
        "client_bound": outcome.loadgen_core_busy_pct > CLIENT_BOUND_PCT,
        "latency_histogram": Histogram.from_values(outcome.latencies_ns).encode(),
        "mode": "open" if plan.open_loop else "closed",
        "engine": outcome.engine,
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
    # The harness samples the server from the load generator's core (to keep off the server's): its CPU time in the
    # window is not the load generator's, so it leaves the busy share and the client-bound verdict (sampling a
    # 1,000-process server's memory took half that core). harness_cpu_s keeps what was taken out.
    harness = server.get("harness_cpu_s", 0.0)
    cores = len(record["loadgen_cores"].split(",")) if record.get("loadgen_cores") else 1
    if harness and window > 0 and record.get("loadgen_core_busy_pct") is not None:
        record["loadgen_core_busy_pct"] = max(0.0, record["loadgen_core_busy_pct"] - 100.0 * harness / (window * cores))
        record["client_bound"] = record["loadgen_core_busy_pct"] > CLIENT_BOUND_PCT
    return record


def merge_reports(parts: list[dict]) -> dict:
    """Several load generators' reports of one run (processes, or hosts) as one report.

    Counts and rates add up; latency histograms merge, so percentiles come from the merged
    histogram (3 significant digits); the busiest load-generator core decides client-bound.
    """
    if len(parts) == 1:
        return dict(parts[0])
    merged = dict(parts[0])
    total = lambda key: sum(p.get(key, 0) for p in parts)  # noqa: E731
    for key in ("requests", "errors", "connections", "connected", "ramped", "served_connections", "verified_replies_total",
                "starved_connections", "loadgen_cpu_s", "loadgen_cpu_pct", "throughput_rps",
                "loadgen_idle_polling_s"):
        merged[key] = total(key)
    kinds: dict = {}
    for part in parts:
        for kind, count in part.get("error_kinds", {}).items():
            kinds[kind] = kinds.get(kind, 0) + count
    merged["error_kinds"] = kinds
    merged["first_error"] = next((p["first_error"] for p in parts if p.get("first_error")), "")
    merged["status"] = "ok" if all(p["status"] == "ok" for p in parts) and merged["requests"] else "failed"
    merged["window_s"] = max(p["window_s"] for p in parts)
    merged["loadgen_core_busy_pct"] = max(p.get("loadgen_core_busy_pct", 0.0) for p in parts)
    merged["client_bound"] = any(p.get("client_bound") for p in parts)
    merged["loadgen_cores"] = ",".join(sorted({c for p in parts for c in str(p.get("loadgen_cores", "")).split(",") if c}))
    merged["loadgen_parts"] = len(parts)
    merged["engine"] = "+".join(sorted({p.get("engine", "uvloop") for p in parts}))
    merged.update(percentiles_from(merge_histograms(p["latency_histogram"] for p in parts), "latency"))
    if merged["requests"]:
        merged["latency_mean_s"] = sum(p["latency_mean_s"] * p["requests"] for p in parts) / merged["requests"]
    merged["latency_histogram"] = merge_histograms(p["latency_histogram"] for p in parts).encode()
    if parts[0].get("offered_rate"):
        uncorrected = merge_histograms(p["latency_uncorrected_histogram"] for p in parts)
        merged.update(percentiles_from(uncorrected, "latency_uncorrected"))
        merged["latency_uncorrected_histogram"] = uncorrected.encode()
        merged["offered_rate"] = total("offered_rate")
        merged["achieved_ratio"] = merged["throughput_rps"] / merged["offered_rate"]
        merged["schedule_backlog_end"] = total("schedule_backlog_end")
        merged["overloaded"] = any(p.get("overloaded") for p in parts) or \
            merged["achieved_ratio"] < KEEPING_UP_SHARE
        merged["schedule_lateness_p99_s"] = max(p["schedule_lateness_p99_s"] for p in parts)  # worst part
        merged["schedule_lateness_max_s"] = max(p["schedule_lateness_max_s"] for p in parts)
    return merged


def merge_histograms(encoded) -> Histogram:
    merged = Histogram()
    for text in encoded:
        merged = merged.merge(Histogram.decode(text))
    return merged


def percentiles_from(histogram: Histogram, prefix: str) -> dict:
    """p50/p90/p99/p99.9/max in seconds, keyed like loadgen_report's fields."""
    if not histogram.total:
        return {}
    names = {"p50": 50, "p90": 90, "p99": 99, "p99_9": 99.9}
    figures = {f"{prefix}_{name}_s": histogram.percentile(pct) / 1e9 for name, pct in names.items()}
    figures[f"{prefix}_max_s"] = histogram.max() / 1e9
    if prefix == "latency_uncorrected":
        figures.pop(f"{prefix}_p90_s")
    return figures


def add_backend_evidence(record: dict, backend_calls: int | None) -> dict:
    """The backend scenario's validity rule: every verified reply must have cost a backend call, so the
    backend's count must reach the load generator's verified replies (all phases). A server that answers
    without calling the backend, or a count that cannot be read, fails the measurement."""
    record = dict(record)
    replies = record.get("verified_replies_total", 0)
    record["backend_calls"] = backend_calls if backend_calls is not None else -1
    record["backend_calls_per_reply"] = backend_calls / replies if backend_calls is not None and replies else 0.0
    if record["status"] != "ok":
        return record
    if backend_calls is None or backend_calls < replies:
        seen = "no count from the backend" if backend_calls is None else f"{backend_calls} backend calls"
        record.update(status="failed", errors=record.get("errors", 0) + 1,
                      error_kinds={**record.get("error_kinds", {}), "backend": 1},
                      first_error=f"backend: {seen} for {replies} verified replies "
                                  f"(the server answered without calling the backend)")
    return record
