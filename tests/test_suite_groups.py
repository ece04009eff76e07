"""Suite groups, levels per scenario, probes and capabilities in the registry: every default selection is the one
concbench made at commit e6ae61b (when five booleans per runner decided them), pinned here name by name."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from concbench import registry
from concbench.scenarios.base import Probe

SEVEN = ["threads", "processes", "twisted", "tornado", "asyncio", "asyncio-streams", "gevent"]
OWN_HTTP = ["threads-httpserver", "processes-httpserver", "twisted-web", "tornado-web", "gevent-pywsgi"]

# What `run` measures with no runner named, scenario by scenario (computed at e6ae61b with plan_cases).
RUN_DEFAULT_PLAN = {
    "echo": SEVEN,
    "http": SEVEN + OWN_HTTP,
    "cpu": SEVEN,
    "churn": SEVEN,
    "backend": ["threads", "threads-pool", "processes-pool", "twisted", "tornado", "asyncio", "asyncio-streams",
                "gevent"],
}
LEVELS = {   # profile -> scenario -> levels, as PROFILES gave them at e6ae61b
    "default": {"echo": (1, 100, 1000), "http": (100,), "cpu": (2,), "churn": (10,), "backend": (10, 2000)},
    "quick": {"echo": (1, 10, 100), "http": (10,), "cpu": (1,), "churn": (10,), "backend": (10,)},
    "full": {"echo": (1, 10, 100, 1000), "http": (1, 10, 100, 1000), "cpu": (1, 2, 4), "churn": (1, 10, 100),
             "backend": (1, 10, 100, 1000, 2000)},
}
MEMORY_DEFAULT = ["threads", "threads-stack-64k", "threads-stack-256k", "processes", "twisted", "tornado", "asyncio",
                  "asyncio-streams", "gevent"]
BACKPRESSURE_DEFAULT = SEVEN + ["asyncio-unbounded", "twisted-unbounded"]
INTEROP = ["uvloop", "uvloop-streams", "twisted-asyncio", "twisted-uvloop", "tornado-uvloop", "twisted-inline", "trio",
           "anyio", "curio", "selectors"]


def test_run_selects_today_s_runners_with_no_runner_named():
    from concbench.cli.plans import without_other_measures
    from concbench.studies.orchestrate import plan_cases
    from concbench.studies.profiles import PROFILES
    scenarios = without_other_measures(None, registry.select(None, registry.SCENARIOS, "scenario"))
    assert scenarios == list(RUN_DEFAULT_PLAN)
    runners = registry.select(None, registry.RUNNERS, "runner", registry.default_runners_for(scenarios))
    assert runners == ["threads", "processes", "threads-pool", "processes-pool", *SEVEN[2:], *OWN_HTTP]
    cases = plan_cases(scenarios, runners, PROFILES["default"], None, registry.named_runners(None))
    planned: dict[str, list[str]] = {}
    for case in cases:
        planned.setdefault(case.scenario, [])
        if case.runner not in planned[case.scenario]:
            planned[case.scenario].append(case.runner)
    assert planned == RUN_DEFAULT_PLAN
    assert len(cases) == 63                 # docs/methodology.md: 63 cases, 189 measurements


@pytest.mark.parametrize("scenario", list(RUN_DEFAULT_PLAN))
def test_run_of_one_scenario_selects_today_s_runners(scenario):
    from concbench.studies.orchestrate import plan_cases
    from concbench.studies.profiles import PROFILES
    runners = registry.default_runners_for([scenario])
    assert runners == (SEVEN[:2] + ["threads-pool", "processes-pool"] + SEVEN[2:] + OWN_HTTP if scenario == "backend"
                       else SEVEN + OWN_HTTP)
    planned = list(dict.fromkeys(c.runner for c in plan_cases([scenario], runners, PROFILES["default"], None, set())))
    assert planned == RUN_DEFAULT_PLAN[scenario]
    assert [r for r in registry.RUNNERS if registry.applicable(r, scenario) is None
            and registry.in_default_suite(r, scenario)] == RUN_DEFAULT_PLAN[scenario]


def test_every_profile_measures_today_s_levels_and_the_scenario_declares_them():
    from concbench.studies.profiles import PROFILES
    for profile, levels in LEVELS.items():
        assert {s: PROFILES[profile].levels(s) for s in levels} == levels
        for scenario, expected in levels.items():
            assert registry.SCENARIOS[scenario].levels_for(profile) == expected
    assert registry.SCENARIOS["stream"].levels_for("default") is None     # not measured by run


def test_memory_backpressure_interop_and_clients_defaults_are_today_s():
    assert registry.default_memory_runners() == MEMORY_DEFAULT
    assert registry.default_stream_runners() == BACKPRESSURE_DEFAULT
    assert registry.group_runners("interop") == INTEROP
    assert registry.group_runners("clients") == ["asyncio", "uvloop"]     # was asyncio and its alias asyncio-uvloop
    assert registry.default_runners() == SEVEN + OWN_HTTP


def test_list_derives_today_s_suite_tags_from_the_groups():
    assert registry.RUNNERS["processes"].not_default_for == ("backend",)
    assert registry.RUNNERS["threads"].not_default_for == ()
    assert registry.RUNNERS["threads-pool"].default_for == ("backend",)
    assert registry.RUNNERS["uvloop"].group == "interop" and registry.RUNNERS["asyncio"].group is None
    assert [n for n, r in registry.RUNNERS.items() if r.default] == SEVEN + OWN_HTTP
    assert not any(r.not_default_for for r in registry.RUNNERS.values() if r.own_http_stack)   # backend: n/a


def test_every_group_capability_and_loop_a_runner_names_is_registered():
    for runner in registry.RUNNERS.values():
        assert set(runner.groups) <= set(registry.GROUPS), runner.name
        assert set(runner.capabilities) <= set(registry.CAPABILITIES), runner.name
        assert runner.event_loop in ("", *registry.EVENT_LOOPS), runner.name
    for scenario in registry.SCENARIOS.values():
        assert scenario.suite in registry.GROUPS, scenario.name
    with pytest.raises(KeyError, match="unknown capability"):
        registry.RUNNERS["threads"].has("threads")
    with pytest.raises(KeyError, match="unknown group"):
        registry.group_runners("nope")


def test_capabilities_give_what_name_checks_gave():
    assert registry.with_capability("worker_per_connection") == ["processes", "processes-httpserver"]
    assert registry.with_capability("unbounded_writes") == ["asyncio-unbounded", "twisted-unbounded"]
    assert registry.with_capability("reference") == ["reference-c"] == [registry.reference_runner()]
    idle = [n for n, r in registry.RUNNERS.items() if "idle_timeout" in dict(r.options)]
    assert idle == registry.with_capability("idle_timeout") == [
        "threads", "processes", "threads-httpserver", "processes-httpserver", "twisted-web", "tornado-web"]
    assert [o for o, _ in registry.RUNNERS["processes"].options] == ["workers", "max_workers", "idle_timeout"]


def test_the_loop_under_each_runner_is_today_s():
    loops = {name: registry.loop_of(runner) for name, runner in registry.RUNNERS.items()}
    twisted = {"twisted", "twisted-inline", "twisted-web", "twisted-unbounded"}
    asyncio = {"tornado", "asyncio", "asyncio-streams", "twisted-asyncio", "anyio", "tornado-web", "asyncio-unbounded"}
    uvloop = {"uvloop", "uvloop-streams", "twisted-uvloop", "tornado-uvloop"}
    assert {n for n, loop in loops.items() if loop == "twisted epoll reactor"} == twisted
    assert {n for n, loop in loops.items() if loop.startswith("asyncio selector loop (Python ")} == asyncio
    assert {n for n, loop in loops.items() if loop.startswith("uvloop")} == uvloop
    assert {n for n, loop in loops.items() if loop} == twisted | asyncio | uvloop


def test_the_interop_comparison_names_registered_runners_of_its_group():
    interop = registry.INTEROP
    named = {runner for _, members in interop.families for runner in members} | {interop.floor}
    assert named <= set(registry.RUNNERS)
    assert set(interop.only_here) <= named & set(registry.group_runners("interop"))


def test_scenario_probes_are_declared_on_the_scenario():
    http = registry.SCENARIOS["http"]
    assert [p.name for p in http.probes] == ["not found", "malformed request line", "keep-alive"]
    assert all(isinstance(p, Probe) for p in http.probes)
    assert not registry.SCENARIOS["echo"].probes


def module_strings_outside_the_registry():
    """String constants naming a concbench.runners module, in concbench/ outside registry.py and runners/."""
    root = Path(registry.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path == root / "registry.py" or (root / "runners") in path.parents:
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and "concbench.runners." in node.value:
                found.append(f"{path.relative_to(root)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("concbench.runners"):
                found.append(f"{path.relative_to(root)}:{node.lineno} imports {node.module}")
    return found


def test_no_code_outside_the_registry_names_a_runner_module():
    assert module_strings_outside_the_registry() == []
