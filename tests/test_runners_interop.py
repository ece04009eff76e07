"""The interop runners and the sized processes pool: registry entries, aliases, labels, and behaviour that the
registry-wide conformance suite does not already check (the processes pool sized to the offered connections,
the fixed pool's starvation as a finding, loops recorded in results)."""
from __future__ import annotations

from concbench import registry
from concbench.clients.loadgen import LoadPlan, run_load
from concbench.results.measurement import loadgen_report
from concbench.studies.orchestrate import Case, case_options, plan_cases
from concbench.studies.profiles import PROFILES
from concbench.scenarios.echo import SCENARIO as ECHO

from .conftest import running_server

INTEROP = ["uvloop", "uvloop-streams", "twisted-asyncio", "twisted-uvloop", "tornado-uvloop", "twisted-inline",
           "trio", "anyio", "curio", "selectors"]


def test_new_runners_are_registered_labelled_and_out_of_the_default_suite():
    for name in INTEROP + ["fork", "processes-fixed"]:
        runner = registry.RUNNERS[name]
        assert not runner.default and not runner.default_for, name
        assert runner.version() != "not installed", name
    assert registry.group_runners("interop") == INTEROP
    assert "UNMAINTAINED" in registry.RUNNERS["curio"].note
    assert registry.default_runners() == [n for n, r in registry.RUNNERS.items() if r.default]
    assert not set(registry.default_runners()) & set(INTEROP + ["fork", "processes-fixed"])


def test_the_same_protocol_module_serves_each_loop():
    modules = {name: registry.RUNNERS[name].module for name in registry.RUNNERS}
    assert modules["twisted"] == modules["twisted-asyncio"] == modules["twisted-uvloop"]
    assert modules["tornado"] == modules["tornado-uvloop"]
    assert modules["asyncio"] == modules["uvloop"] and modules["asyncio-streams"] == modules["uvloop-streams"]
    assert modules["processes"] == modules["processes-fixed"]
    loops = {name: dict(registry.RUNNERS[name].fixed_options).get("loop") for name in INTEROP}
    assert loops["twisted-asyncio"] == "asyncio" and loops["twisted-uvloop"] == loops["tornado-uvloop"] == "uvloop"


def test_the_old_uvloop_name_still_selects_and_names_the_runner():
    assert registry.select(["asyncio-uvloop"], registry.RUNNERS, "runner") == ["uvloop"]
    assert registry.named_runners(["asyncio-uvloop,twisted"]) == {"uvloop", "twisted"}
    assert registry.canonical("asyncio-uvloop") == "uvloop" and "asyncio-uvloop" not in registry.RUNNERS


def test_loops_are_recorded_with_their_versions():
    from concbench.results.format import runner_labels
    assert runner_labels(registry.RUNNERS["twisted-uvloop"])["runner_loop"].startswith("uvloop 0.")
    assert runner_labels(registry.RUNNERS["twisted-asyncio"])["runner_loop"].startswith("asyncio selector loop")
    assert runner_labels(registry.RUNNERS["twisted"])["runner_loop"] == "twisted epoll reactor"
    assert runner_labels(registry.RUNNERS["tornado"])["runner_loop"].startswith("asyncio selector loop")
    assert "runner_external" not in runner_labels(registry.RUNNERS["trio"])


def test_run_sizes_processes_to_the_offered_connections_but_not_the_fixed_pool_or_explicit_workers():
    case = Case("echo", (("size", 64),), 100, "processes")
    assert case_options(case, {})["connections"] == "100"
    assert case_options(case, {"processes": {"workers": "7"}}) == {"workers": "7", "connections": "100"}
    assert "connections" not in case_options(Case("echo", (("size", 64),), 100, "processes-fixed"), {})
    from concbench.runners.processes import MAX_WORKERS, worker_count
    assert worker_count({"connections": "100"}) == 100
    assert worker_count({"connections": "5000"}) == MAX_WORKERS
    assert worker_count({"connections": "5000", "max_workers": "64"}) == 64
    assert worker_count({"connections": "100", "workers": "7"}) == 7


def test_interop_runners_plan_only_when_named():
    cases = plan_cases(["echo"], registry.default_runners(), PROFILES["quick"])
    assert not {c.runner for c in cases} & set(INTEROP)
    named = plan_cases(["echo", "http"], ["selectors", "trio"], PROFILES["quick"], named={"selectors", "trio"})
    assert {(c.scenario, c.runner) for c in named} == {(s, r) for s in ("echo", "http") for r in ("selectors", "trio")}


def load(port: int, connections: int) -> dict:
    plan = LoadPlan("127.0.0.1", port, connections, warmup_s=0.05, duration_s=0.3, timeout_s=2.0)
    return loadgen_report(run_load(plan, ECHO.client_workload({"size": 64})))


def test_sized_processes_serve_every_persistent_connection_the_fixed_pool_starves_them():
    with running_server("processes", options={"connections": "12"}) as server:
        assert server.ready_fields["worker_processes"] == "12"
        report = load(server.port, 12)
    assert report["status"] == "ok", report["first_error"]
    assert report["served_connections"] == 12
    with running_server("processes-fixed", options={"workers": "2"}) as server:
        report = load(server.port, 6)
    assert report["status"] != "ok"           # the finding: 4 of 6 persistent connections wait in the backlog
    assert report["served_connections"] == 2
