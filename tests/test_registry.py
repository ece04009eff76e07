"""The registry is the one list behind `list`, selection and the conformance suite."""
from __future__ import annotations

import importlib

import pytest

from concbench import registry


def test_every_runner_module_exposes_serve():
    for runner in registry.RUNNERS.values():
        assert callable(importlib.import_module(runner.module).serve), runner.name


def test_default_suite_has_the_six_models_the_streams_variant_and_the_own_http_stacks():
    assert registry.default_runners() == ["threads", "processes", "twisted", "tornado", "asyncio",
                                          "asyncio-streams", "gevent", "threads-httpserver",
                                          "processes-httpserver", "twisted-web", "tornado-web", "gevent-pywsgi"]


def test_own_http_stacks_are_http_only_variants_of_a_base_model():
    own = [r for r in registry.RUNNERS.values() if r.own_http_stack]
    assert {r.variant_of for r in own} == {"threads", "processes", "twisted", "tornado", "gevent"}
    for runner in own:
        assert runner.only_scenarios == ("http",), runner.name
        assert registry.applicable(runner.name, "http") is None
        assert "own HTTP stack" in registry.applicable(runner.name, "echo")


def test_the_default_echo_suite_plans_no_own_http_stack():
    from concbench.studies.orchestrate import plan_cases
    from concbench.studies.profiles import PROFILES
    cases = plan_cases(["echo"], registry.default_runners(), PROFILES["quick"])
    assert {c.runner for c in cases} == {"threads", "processes", "twisted", "tornado", "asyncio",
                                         "asyncio-streams", "gevent"}


def test_selection_adds_removes_and_rejects():
    assert registry.select(["asyncio", "twisted"], registry.RUNNERS, "runner") == ["asyncio", "twisted"]
    assert registry.select(["asyncio,twisted"], registry.RUNNERS, "runner") == ["asyncio", "twisted"]
    assert "gevent" not in registry.select(["-gevent"], registry.RUNNERS, "runner")
    assert "reference-c" in registry.select(["all"], registry.RUNNERS, "runner")
    with pytest.raises(ValueError, match="unknown runner 'nope'"):
        registry.select(["nope"], registry.RUNNERS, "runner")


def test_applicability_is_declared_with_a_reason():
    assert registry.applicable("asyncio", "echo") is None
    assert registry.applicable("reference-c", "echo") is None
    assert "only" in registry.applicable("reference-c", "not-a-scenario")


def test_versions_are_reported():
    for runner in registry.RUNNERS.values():
        assert runner.version() and runner.version() != "not installed", runner.name


def test_thread_stack_variants_are_labelled_and_only_in_the_memory_suite():
    for name in ("threads-stack-64k", "threads-stack-256k"):
        runner = registry.RUNNERS[name]
        assert runner.variant_of == "threads" and dict(runner.fixed_options)["stack_size"].isdigit()
        assert name not in registry.default_runners() and name in registry.default_memory_runners()
    chosen = registry.select(["-gevent"], registry.RUNNERS, "runner", registry.default_memory_runners())
    assert "threads-stack-256k" in chosen and "gevent" not in chosen


def test_memory_default_holds_only_runners_that_serve_echo():
    chosen = registry.default_memory_runners()
    assert "threads-stack-64k" in chosen and "asyncio" in chosen
    assert all(registry.applicable(name, "echo") is None for name in chosen)
