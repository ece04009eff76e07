"""The cpu scenario without I/O: the work is deterministic, requests may arrive split or batched."""
from __future__ import annotations

from concbench.scenarios.cpu import MESSAGE, SCENARIO, CpuSession, encode, work


def test_reply_is_the_work_on_the_seed():
    session = CpuSession(100)
    assert session.receive(encode(42)) == encode(work(42, 100))


def test_split_and_batched_requests():
    session = CpuSession(10)
    requests = encode(1) + encode(2) + encode(3)
    replies = b"".join(session.receive(requests[i:i + 5]) for i in range(0, len(requests), 5))
    assert replies == encode(work(1, 10)) + encode(work(2, 10)) + encode(work(3, 10))


def test_garbage_gets_a_reply_the_client_will_reject():
    reply = CpuSession(10).receive(b"not-a-number!!!!")
    assert len(reply) == MESSAGE and reply != encode(work(0, 10))


def test_workload_expects_the_server_computation():
    workload = SCENARIO.client_workload({"iterations": 50})
    for exchange in workload.exchanges[:5]:
        assert CpuSession(50).receive(exchange.request) == exchange.expected_reply
    assert len({e.request for e in workload.exchanges}) == len(workload.exchanges)
