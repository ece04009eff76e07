"""The load generator for connection-per-request scenarios: N workers, each connecting for every request.

It owns the connect / send / verify / wait-for-close loop and its phases, and fills the same
LoadOutcome (concbench.clients.plan) as the persistent-connection generator, so reports are alike.
"""
from __future__ import annotations

import asyncio
import os
import time

from concbench import cpu
from concbench.fairness import configure_connection
from concbench.clients.plan import LoadOutcome, LoadPlan

perf_counter_ns = time.perf_counter_ns


class OneShot(asyncio.Protocol):
    """One connection, one request: done resolves to None (verified reply, then the server's close)
    or to (kind, detail)."""

    def __init__(self, request: bytes, expected: bytes, done: asyncio.Future, on_reply):
        self.request, self.expected, self.done, self.on_reply = request, expected, done, on_reply
        self.received = 0

    def connection_made(self, transport):
        configure_connection(transport.get_extra_info("socket"))
        transport.write(self.request)

    def _finish(self, result):
        if not self.done.done():
            self.done.set_result(result)

    def data_received(self, data):
        end = self.received + len(data)
        if end > len(self.expected) or memoryview(self.expected)[self.received:end] != data:
            self._finish(("mismatch", f"reply differs from the expected {len(self.expected)} bytes"))
            return
        self.received = end
        if end == len(self.expected):
            self.on_reply()

    def eof_received(self):
        if self.received == len(self.expected):
            self._finish(None)
        else:
            self._finish(("closed", f"server closed after {self.received} of {len(self.expected)} bytes"))
        return False

    def connection_lost(self, exc):
        if self.received == len(self.expected):
            self._finish(None)
        else:
            self._finish(("reset", f"connection lost: {exc or 'closed'}"))


class ChurnGenerator:
    def __init__(self, plan: LoadPlan, workload, on_event=None):
        self.plan = plan
        self.ring = tuple((e.request, e.expected_reply) for e in workload.exchanges)
        self.on_event = on_event or (lambda name: None)
        self.outcome = LoadOutcome(plan)
        self.sending = True
        self.completed_by_worker = [0] * plan.connections

    def count_error(self, kind, detail):
        self.outcome.errors[kind] = self.outcome.errors.get(kind, 0) + 1
        if not self.outcome.first_error:
            self.outcome.first_error = f"{kind}: {detail}"

    async def worker(self, offset: int):
        loop = asyncio.get_running_loop()
        plan, record = self.plan, self.outcome.latencies_ns.append
        index = offset
        while self.sending:
            request, expected = self.ring[index % len(self.ring)]
            index += 1
            start = perf_counter_ns()
            done = loop.create_future()
            replied_at = []

            def on_reply():
                replied_at.append(perf_counter_ns())

            transport = None
            try:
                transport, _ = await asyncio.wait_for(
                    loop.create_connection(lambda: OneShot(request, expected, done, on_reply), plan.host, plan.port),
                    plan.connect_timeout_s)
                result = await asyncio.wait_for(done, plan.timeout_s)
            except asyncio.TimeoutError:
                self.count_error("timeout" if transport else "connect", "no reply and close within the timeout"
                                 if transport else f"connect to {plan.host}:{plan.port} timed out")
                if transport:
                    transport.abort()
                continue
            except OSError as exc:
                self.count_error("connect", exc.strerror or str(exc))
                await asyncio.sleep(0.01)        # do not spin on a refusing server
                continue
            if result is None:
                record(replied_at[0] - start)
                self.completed_by_worker[offset] += 1
            else:
                self.count_error(*result)
                transport.abort()

    async def run(self) -> LoadOutcome:
        plan, outcome = self.plan, self.outcome
        outcome.connected = outcome.ramped = plan.connections     # every request connects anew
        self.on_event("connected")
        workers = [asyncio.ensure_future(self.worker(i)) for i in range(plan.connections)]
        await asyncio.sleep(plan.warmup_s)
        cores = tuple(sorted(os.sched_getaffinity(0)))
        start = len(outcome.latencies_ns)
        cores0, cpu0, t0 = cpu.read_cores(), time.process_time(), time.perf_counter()
        self.on_event("window_start")
        await asyncio.sleep(plan.duration_s)
        end = len(outcome.latencies_ns)
        cpu1, t1, cores1 = time.process_time(), time.perf_counter(), cpu.read_cores()
        self.on_event("window_end")
        self.sending = False
        await asyncio.wait(workers, timeout=plan.connect_timeout_s + plan.timeout_s + 1.0)
        for task in workers:
            task.cancel()
        outcome.window_s, outcome.loadgen_cpu_s = t1 - t0, cpu1 - cpu0
        outcome.loadgen_cores = cores
        outcome.loadgen_core_busy_pct = cpu.busy_pct(cores0, cores1, cores)
        outcome.verified_replies_total = len(outcome.latencies_ns)
        outcome.latencies_ns = outcome.latencies_ns[start:end]
        outcome.requests = end - start
        outcome.served_connections = sum(1 for n in self.completed_by_worker if n)
        return outcome
