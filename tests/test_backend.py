"""The backend scenario: the sans-IO session in memory, the backend service's behaviour (counts and bytes,
never timing), the call-count rule that catches a server answering without the backend, and the
pool runners' place in the suite. Every runner's conformance is in test_conformance_scenarios.py."""
from __future__ import annotations

import socket

import pytest

from concbench import fairness, registry
from concbench.harness.backend_service import BackendProcess
from concbench.clients.loadgen import LoadPlan, run_load
from concbench.results.measurement import add_backend_evidence, loadgen_report
from concbench.studies.orchestrate import Case, measure, plan_cases
from concbench.studies.profiles import PROFILES
from concbench.scenarios.backend import (SCENARIO, BackendProtocolError, BackendSession, encode_backend_reply,
                               encode_backend_request, parse_backend_request, transform)

from .brokenservers import BrokenServer
from .conftest import running_server


def fake_backend(request_bytes: bytes) -> bytes:
    """What the backend service answers, computed in memory from its own parser and encoder."""
    replies, buffer = [], request_bytes
    while (parsed := parse_backend_request(buffer)) is not None:
        _, payload, used = parsed
        replies.append(encode_backend_reply(payload))
        buffer = buffer[used:]
    assert buffer == b""
    return b"".join(replies)


def test_session_turns_a_request_into_one_backend_call_and_its_reply_into_the_client_reply():
    session = BackendSession(size=8, delay_ms=3)
    assert session.receive(b"abc") == b"" and session.take_backend_request() == b""     # incomplete
    assert session.receive(b"defgh") == b""
    call = session.take_backend_request()
    assert parse_backend_request(call) == (3, b"abcdefgh", len(call))
    assert session.take_backend_request() == b""                                      # taken once
    answer = fake_backend(call)
    assert session.backend_received(answer[:5]) == b""                                # split reply
    assert session.backend_received(answer[5:]) == transform(b"abcdefgh") != b"abcdefgh"


def test_a_second_request_waits_for_the_first_call():
    session = BackendSession(size=4, delay_ms=0)
    session.receive(b"1111" + b"22")
    first = session.take_backend_request()
    session.receive(b"22")
    assert session.take_backend_request() == b""            # one call at a time per session
    assert session.backend_received(fake_backend(first)) == transform(b"1111")
    second = session.take_backend_request()
    assert session.backend_received(fake_backend(second)) == transform(b"2222")


def test_a_backend_breaking_the_framing_is_an_error():
    session = BackendSession(size=4, delay_ms=0)
    session.receive(b"abcd")
    call = session.take_backend_request()
    with pytest.raises(BackendProtocolError):
        session.backend_received(fake_backend(call) + b"extra")
    with pytest.raises(BackendProtocolError):
        parse_backend_request(b"X" + bytes(10))


def test_client_workload_expects_the_backends_answer_and_parameters_are_listed():
    workload = SCENARIO.client_workload(SCENARIO.parse_params({"size": 32}))
    assert all(e.expected_reply == transform(e.request) and len(e.request) == 32 for e in workload.exchanges)
    assert len({e.request for e in workload.exchanges}) == len(workload.exchanges)
    assert SCENARIO.parse_params({}) == {"size": 64, "delay_ms": 10}
    assert SCENARIO.needs_backend and SCENARIO.default


def test_backend_service_answers_every_request_and_counts_the_calls():
    backend = BackendProcess().start()
    try:
        payloads = [bytes([i]) * 16 for i in range(5)]
        with socket.create_connection(("127.0.0.1", backend.port), timeout=10) as sock:
            sock.sendall(b"".join(encode_backend_request(1, p) for p in payloads))   # pipelined
            expected = b"".join(encode_backend_reply(p) for p in payloads)
            received = b""
            while len(received) < len(expected):
                chunk = sock.recv(65536)
                assert chunk, "the backend closed early"
                received += chunk
        assert received == expected
    finally:
        calls = backend.stop()
    assert calls == len(payloads)


def test_a_server_answering_without_calling_the_backend_fails_verification():
    """Right bytes, computed locally: the load generator cannot tell, the backend's count does."""
    params = SCENARIO.parse_params({"delay_ms": 1})
    backend = BackendProcess().start()
    try:
        with BrokenServer(transform) as cheat:
            plan = LoadPlan("127.0.0.1", cheat.port, 2, warmup_s=0.05, duration_s=0.2, timeout_s=3.0)
            report = loadgen_report(run_load(plan, SCENARIO.client_workload(params)))
    finally:
        calls = backend.stop()
    assert report["status"] == "ok" and report["verified_replies_total"] > 0
    judged = add_backend_evidence(report, calls)
    assert calls == 0 and judged["status"] == "failed"
    assert judged["error_kinds"]["backend"] == 1 and "without calling the backend" in judged["first_error"]
    assert add_backend_evidence(report, None)["status"] == "failed"         # no count is no proof


def test_measure_records_backend_calls_and_the_servers_pool():
    profile = PROFILES["quick"]
    case = Case("backend", tuple(sorted(SCENARIO.parse_params({"delay_ms": 1}).items())), 4, "threads-pool")
    server_cpus, loadgen_cpus = fairness.default_cpu_split()
    record = measure(case, profile, server_cpus, loadgen_cpus, {"pool": "3"})
    assert record["status"] == "ok", record["first_error"]
    assert record["backend_calls"] >= record["verified_replies_total"] > 0
    assert record["backend_calls_per_reply"] >= 1.0
    assert record["server_pool"] == "3"


def test_serve_alone_starts_its_own_backend():
    # No --backend: `concbench serve` starts a backend service of its own (stopped with the server's group).
    with running_server("asyncio", "backend", params={"delay_ms": 1, "size": 8}) as server:
        with socket.create_connection((server.host, server.port), timeout=10) as sock:
            sock.sendall(b"12345678")
            reply = b""
            while len(reply) < 8:
                chunk = sock.recv(64)
                assert chunk
                reply += chunk
        assert reply == transform(b"12345678")


def test_pool_variants_are_labelled_and_in_the_default_suite_for_backend_only():
    for name in ("threads-pool", "processes-pool"):
        runner = registry.RUNNERS[name]
        assert runner.default_for == ("backend",) and not runner.default and runner.variant_of
        assert all(registry.applicable(name, s) is None for s in registry.SCENARIOS)
    scenarios = ["echo", "backend"]
    runners = registry.default_runners_for(scenarios)
    cases = plan_cases(scenarios, runners, PROFILES["quick"], named=registry.named_runners(None))
    pooled = {c.scenario for c in cases if c.runner.endswith("-pool")}
    assert pooled == {"backend"}
    named = plan_cases(["echo"], ["threads-pool"], PROFILES["quick"], named=registry.named_runners(["threads-pool"]))
    assert {c.runner for c in named} == {"threads-pool"}


def test_chart_labels_pools_and_computes_each_bounded_pools_ceiling_from_the_result():
    from concbench.analysis.charts import pool_ceilings, runner_label, server_pools
    params = (("delay_ms", 20), ("size", 64))
    records = [{"scenario": "backend", "param_delay_ms": 20, "param_size": 64, "offered_connections": 10,
                "runner": runner, "status": "ok", "server_pool": pool}
               for runner, pool in (("threads-pool", "8"), ("threads", "unbounded"))]
    records.append({"scenario": "backend", "param_delay_ms": 20, "param_size": 64, "offered_connections": 10,
                    "runner": "asyncio", "status": "ok"})
    pools = server_pools(records, "backend", params)
    assert pools == {"threads-pool": "8", "threads": "unbounded"}
    assert pool_ceilings(pools, params) == {"threads-pool": 8 / 0.020}
    assert runner_label("threads-pool", pools) == "threads-pool (pool 8)"
    assert "unbounded" in runner_label("threads", pools) and runner_label("asyncio", pools) == "asyncio"
