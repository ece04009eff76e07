"""`--loadgen wrk`: the same measurement driven by wrk (when installed), its output parsed into a record.

A cross-check for the http scenario, labelled as such: wrk counts non-2xx/3xx responses and socket
errors but does not check bodies or headers, and reports p50/p75/p90/p99 only (no p99.9).
"""
from __future__ import annotations

import re
import shutil
import subprocess

from concbench import cpu
from concbench.results.measurement import CLIENT_BOUND_PCT
from concbench.scenarios.http import REQUEST

UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def header_options(request: bytes = REQUEST) -> list[str]:
    """`-H` options that make wrk send the scenario's own request (its Host without the port, its User-Agent):
    a server's work depends on the headers it parses, so both clients must send the same bytes."""
    lines = request.decode("ascii").split("\r\n")[1:]
    return [option for line in lines if line for option in ("-H", line)]


def available() -> bool:
    return shutil.which("wrk") is not None


def seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse(output: str) -> dict:
    """wrk --latency output -> the fields concbench records (ValueError if it is not wrk output)."""
    requests = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", output, re.M)
    rate = re.search(r"^Requests/sec:\s*([\d.]+)", output, re.M)
    if not (requests and rate):
        raise ValueError("no 'requests in' / 'Requests/sec' lines: not wrk --latency output")
    percentiles = dict(re.findall(r"^\s*(50|75|90|99)%\s+([\d.]+\w+)\s*$", output, re.M))
    latency = re.search(r"^\s*Latency\s+\S+\s+\S+\s+([\d.]+\w+)", output, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = {}
    if non_2xx and int(non_2xx.group(1)):
        errors["status"] = int(non_2xx.group(1))
    if sockets:
        for kind, count in zip(("connect", "read", "write", "timeout"), map(int, sockets.groups())):
            if count:
                errors[kind] = count
    record = {
        "requests": int(requests.group(1)),
        "window_s": seconds(requests.group(2)),
        "throughput_rps": float(rate.group(1)),
        "latency_p50_s": seconds(percentiles["50"]) if "50" in percentiles else 0.0,
        "latency_p90_s": seconds(percentiles["90"]) if "90" in percentiles else 0.0,
        "latency_p99_s": seconds(percentiles["99"]) if "99" in percentiles else 0.0,
        "latency_max_s": seconds(latency.group(1)) if latency else 0.0,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "first_error": ", ".join(f"{k}={v}" for k, v in errors.items()),
        "loadgen": "wrk",
        "verification": "status codes and socket errors only (wrk does not check bodies)",
    }
    record["status"] = "ok" if record["requests"] and not record["errors"] else "failed"
    return record


def run(url: str, connections: int, warmup_s: float, duration_s: float, cpus, on_event) -> dict:
    """A discarded warm-up run, then the measured run; both pinned to the load generator's cpus."""
    pin = ["taskset", "-c", ",".join(map(str, cpus))] if cpus and shutil.which("taskset") else []

    def wrk(seconds_: float, latency: bool) -> str:
        command = pin + ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds_))}s", "--timeout", "2s"]
        command += header_options() + (["--latency"] if latency else []) + [url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds_ + 60)
        if done.returncode != 0:
            raise RuntimeError((done.stderr.strip().splitlines() or ["wrk failed"])[-1])
        return done.stdout

    if warmup_s > 0:
        wrk(warmup_s, latency=False)
    on_event("window_start")
    cores0 = cpu.read_cores()
    output = wrk(duration_s, latency=True)
    busy = cpu.busy_pct(cores0, cpu.read_cores(), cpus) if cpus else 0.0
    on_event("window_end")
    record = parse(output)
    record.update(connections=connections, served_connections=connections, starved_connections=0,
                  loadgen_core_busy_pct=busy, client_bound=busy > CLIENT_BOUND_PCT, mode="closed",
                  loadgen_cores=",".join(map(str, cpus or ())))
    return record
