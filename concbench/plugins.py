"""Runner plugins: runners another installed package registers through the entry-point group concbench.runners.

It owns discovery only: each entry point names a module exposing serve(listener, make_session, options, ready)
(docs/runners.md), whose optional MODEL, SUMMARY and ONLY_SCENARIOS describe it; a failure is kept as a line.
"""
from __future__ import annotations

import importlib.metadata

GROUP = "concbench.runners"


def entry_points():
    return importlib.metadata.entry_points(group=GROUP)


def discover(runner_class, taken) -> tuple[list, list[str]]:
    """(runners, problems): a runner_class per loadable entry point, and one line per one that is not."""
    runners, problems = [], []
    for ep in sorted(entry_points(), key=lambda e: e.name):
        dist = getattr(ep.dist, "name", None) or "unknown distribution"
        where = f"plugin runner {ep.name!r} ({ep.value}, from {dist})"
        if ep.name in taken:
            problems.append(f"{where}: the name is taken by a built-in runner; ignored")
            continue
        try:
            module = ep.load()
        except Exception as exc:       # any failure of someone else's import is a line, never a traceback
            problems.append(f"{where}: cannot be imported: {type(exc).__name__}: {exc}")
            continue
        if not callable(getattr(module, "serve", None)):
            problems.append(f"{where}: {ep.value} has no serve(listener, make_session, options, ready)")
            continue
        only = getattr(module, "ONLY_SCENARIOS", None)
        runners.append(runner_class(
            ep.name, module.__name__, getattr(module, "MODEL", "external plugin"), dist,
            getattr(module, "SUMMARY", f"external plugin runner from {dist}"),
            only_scenarios=tuple(only) if only else None, external=True))
        taken = {*taken, ep.name}
    return runners, problems
