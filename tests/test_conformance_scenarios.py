"""Every scenario on every runner that applies, from the registry: a short load, every reply verified.

A scenario that needs a backend runs against a real backend service (short delay), whose call count
must reach the verified replies, as in a measurement."""
from __future__ import annotations

import pytest

from concbench import registry
from concbench.harness.backend_service import BackendProcess
from concbench.clients.loadgen import LoadPlan, run_load
from concbench.results.measurement import add_backend_evidence, loadgen_report

from .conftest import running_server

SMALL = {"cpu": {"iterations": 200}, "backend": {"delay_ms": 1}}   # small work: behaviour, not speed
PAIRS = [(scenario, runner) for scenario in registry.SCENARIOS for runner in registry.RUNNERS
         if registry.applicable(runner, scenario) is None
         and not registry.SCENARIOS[scenario].measured_by]     # stream: tests/test_stream.py


@pytest.mark.parametrize("scenario, runner", PAIRS, ids=[f"{s}-{r}" for s, r in PAIRS])
def test_scenario_served_correctly_under_load(scenario, runner):
    spec = registry.SCENARIOS[scenario]
    params = spec.parse_params(SMALL.get(scenario, {}))
    backend = BackendProcess().start() if spec.needs_backend else None
    try:
        with running_server(runner, scenario, params, backend=backend and backend.address) as server:
            plan = LoadPlan("127.0.0.1", server.port, 3, warmup_s=0.05, duration_s=0.25, timeout_s=5.0)
            report = loadgen_report(run_load(plan, spec.client_workload(params)))
    finally:
        calls = backend.stop() if backend else None
    assert report["status"] == "ok", report["first_error"]
    assert report["requests"] > 0 and report["errors"] == 0
    if backend is not None:
        assert calls >= report["verified_replies_total"] > 0
        assert add_backend_evidence(report, calls)["status"] == "ok"
