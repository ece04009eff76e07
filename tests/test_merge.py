"""Several load generators, one report: processes (--loadgen-procs) and files from several hosts (merge-load)."""
from __future__ import annotations

import json
import subprocess
import sys

from concbench.results.histogram import Histogram
from concbench.clients.loadgen import LoadPlan, run_load
from concbench.clients.loadgen_procs import split_plan
from concbench.results.measurement import loadgen_report, merge_reports
from concbench.scenarios.echo import SCENARIO

from .brokenservers import BrokenServer


def report(port, connections=3, rate=None):
    plan = LoadPlan("127.0.0.1", port, connections, warmup_s=0.05, duration_s=0.3, timeout_s=2.0, rate=rate)
    return loadgen_report(run_load(plan, SCENARIO.client_workload({"size": 64})))


def test_merged_report_adds_counts_and_merges_histograms():
    with BrokenServer(lambda data: data) as server:
        parts = [report(server.port), report(server.port, connections=2)]
    merged = merge_reports(parts)
    assert merged["requests"] == parts[0]["requests"] + parts[1]["requests"]
    assert merged["connections"] == 5
    assert merged["throughput_rps"] == parts[0]["throughput_rps"] + parts[1]["throughput_rps"]
    assert Histogram.decode(merged["latency_histogram"]).total == merged["requests"]
    low = min(p["latency_p99_s"] for p in parts)
    high = max(p["latency_p99_s"] for p in parts)
    assert low * 0.999 <= merged["latency_p99_s"] <= high * 1.001
    assert merged["status"] == "ok" and merged["loadgen_parts"] == 2


def test_one_failed_part_fails_the_merge():
    with BrokenServer(lambda data: data) as good, BrokenServer(lambda data: data[::-1]) as bad:
        merged = merge_reports([report(good.port), report(bad.port)])
    assert merged["status"] == "failed"
    assert merged["error_kinds"].get("mismatch", 0) >= 1


def test_open_loop_rates_add_up():
    with BrokenServer(lambda data: data) as server:
        merged = merge_reports([report(server.port, rate=300), report(server.port, rate=500)])
    assert merged["offered_rate"] == 800
    assert "latency_uncorrected_p99_s" in merged


def test_plan_split_keeps_totals():
    parts = split_plan(LoadPlan("h", 1, 10, 0, 1, rate=1000.0), 3)
    assert [p.connections for p in parts] == [4, 3, 3]
    assert abs(sum(p.rate for p in parts) - 1000.0) < 1e-9


def concbench(*args):
    return subprocess.run([sys.executable, "-m", "concbench", *args], capture_output=True, text=True, timeout=120)


def test_load_with_two_processes(tmp_path):
    out = tmp_path / "two.json"
    with BrokenServer(lambda data: data) as server:
        done = concbench("load", "echo", "--target", f"127.0.0.1:{server.port}", "--connections", "4",
                         "--duration", "0.3", "--warmup", "0.1", "--loadgen-procs", "2", "--json", str(out))
    assert done.returncode == 0, done.stderr
    merged = json.loads(out.read_text())
    assert merged["loadgen_parts"] == 2 and merged["connections"] == 4 and merged["status"] == "ok"


def test_more_processes_than_connections_is_bad_input():
    done = concbench("load", "echo", "--target", "127.0.0.1:9", "--connections", "1", "--duration", "1",
                     "--loadgen-procs", "2")
    assert done.returncode == 2 and "at least as many connections" in done.stderr


def test_merge_load_files_from_several_hosts(tmp_path):
    files = []
    with BrokenServer(lambda data: data) as server:
        for name in ("host-a", "host-b"):
            path = tmp_path / f"{name}.json"
            done = concbench("load", "echo", "--target", f"127.0.0.1:{server.port}", "--connections", "2",
                             "--duration", "0.3", "--warmup", "0.1", "--json", str(path))
            assert done.returncode == 0, done.stderr
            files.append(str(path))
    merged_path = tmp_path / "merged.json"
    done = concbench("merge-load", *files, "--json", str(merged_path))
    assert done.returncode == 0, done.stderr
    merged = json.loads(merged_path.read_text())
    parts = [json.loads(open(f).read()) for f in files]
    assert merged["requests"] == sum(p["requests"] for p in parts)
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"a": 1}')
    bad = concbench("merge-load", files[0], str(foreign))
    assert bad.returncode == 2 and "not a `concbench load --json` report" in bad.stderr
