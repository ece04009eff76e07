"""Scenarios, parameters and runners in words for headings and reports ('echo, 64-byte messages'),
with the explanation of each scenario taken from the registry (never restated here). Pure: no files.
"""
from __future__ import annotations

from concbench.registry import RUNNERS, SCENARIOS

# How a parameter value reads in a heading; a parameter not listed reads as '<its help>: <value>'.
PARAMETER_WORDS = {
    "size": lambda v: f"{_bytes(v)} messages",
    "delay_ms": lambda v: f"backend answers in {v:g} ms",
    "iterations": lambda v: f"{v:,} rounds of work per request",
    "chunk": lambda v: f"{_bytes(v)} writes",
    "rate": lambda v: f"offered {v:,.0f} requests/s",
    "slow": lambda v: f"{v:,} slow clients",
}


def _bytes(n) -> str:
    n = int(n)
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}-{unit}"
    return f"{n}-byte"


def parameter_words(name: str, value) -> str:
    if name in PARAMETER_WORDS:
        return PARAMETER_WORDS[name](value)
    helps = {p.name: p.help for s in SCENARIOS.values() for p in s.parameters}
    return f"{helps.get(name, name).split(' (')[0]}: {value}"


def scenario_title(scenario: str, params) -> str:
    """'echo, 64-byte messages'; 'backend, 64-byte messages, backend answers in 10 ms'; 'http'."""
    return ", ".join([scenario, *(parameter_words(k, v) for k, v in params)])


SHORT_WORDS = {
    "size": lambda v: f"{_bytes(v).replace('-byte', ' B').replace('-', ' ')}",
    "delay_ms": lambda v: f"{v:g} ms",
    "iterations": lambda v: f"{v:,} rounds",
    "chunk": lambda v: f"{_bytes(v).replace('-byte', ' B').replace('-', ' ')} writes",
    "rate": lambda v: f"{v:,.0f}/s",
    "slow": lambda v: f"{v:,} slow",
}


def scenario_short(scenario: str, params) -> str:
    """For a table cell: 'echo 64 B', 'backend 10 ms, 64 B', 'cpu 1,000 rounds'."""
    words = [SHORT_WORDS[k](v) if k in SHORT_WORDS else f"{k}={v}" for k, v in params]
    return f"{scenario} {', '.join(words)}".strip()


def level_title(scenario: str, params, connections: int) -> str:
    return f"{scenario_title(scenario, params)}; {connections:,} connection{'' if connections == 1 else 's'}"


def scenario_explanation(scenario: str) -> str:
    """What a scenario measures, in the words of its registry entry (its summary)."""
    known = SCENARIOS.get(scenario)
    return known.summary if known else ""


def runner_explanation(runner: str) -> str:
    """'asyncio: event loop (asyncio selector), callbacks', from the registry."""
    known = RUNNERS.get(runner)
    if known is None:
        return runner
    variant = f", variant of {known.variant_of}" if known.variant_of else ""
    return f"{runner}: {known.model}{variant}"


def machine_line(records: list[dict]) -> str:
    """The machine, Python, cpus, engine, profile, commit and date a result was measured on, in one line."""
    first = records[0]
    return (f"{first.get('cpu_model_name', 'unknown cpu')}, {first.get('cpu_count', '?')} cpus, "
            f"Python {first.get('python_version', '?')}, server cpu {first.get('server_cpus', '?')}, "
            f"load generator cpu {first.get('loadgen_cpus', '?')} ({first.get('engine', 'uvloop')} engine), "
            f"{first.get('profile', '?')} profile, "
            f"commit {str(first.get('git_commit', '?'))[:12]}, {str(first.get('date', first.get('measured_at', '')))[:16]}")
