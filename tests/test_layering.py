"""The package's layering, read from the source with ast: every import (function-local ones included) points down
cli > studies > analysis > clients > harness > results > model, and no set of modules imports itself in a circle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "concbench"

# Higher imports lower, never the reverse; the model is every module not in a named layer (registry, scenarios,
# runners, errors, fairness, cpu, console, paths, plugins, extra_work). Runners are loaded by name in the server
# process (registry.Runner.load), not imported by the harness.
LAYERS = ("cli", "studies", "analysis", "clients", "harness", "results")
RANK = {name: len(LAYERS) - index for index, name in enumerate(LAYERS)}      # cli highest, model 0


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The concbench modules `name` imports anywhere in its file (a `from pkg import mod` names the module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:          # concbench.x.y.attr -> the module concbench.x.y
                target = target.rpartition(".")[0]
            if target and target != name and target != "concbench":
                found.add(target)
    return found


def layer(name: str) -> int:
    if name == "concbench.__main__":                # `python -m concbench`: above everything
        return len(LAYERS) + 1
    parts = name.split(".")
    return RANK.get(parts[1], 0) if len(parts) > 1 else 0


GRAPH = {name: imported(name, path, set(modules())) for name, path in modules().items()}


def test_the_layers_exist():
    present = {name.split(".")[1] for name in GRAPH if name.count(".") >= 1}
    assert set(LAYERS) <= present


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_point_down(name):
    upward = sorted(target for target in GRAPH[name]
                    if layer(target) > layer(name) and target.split(".")[:2] != name.split(".")[:2])
    assert not upward, f"{name} (layer {layer(name)}) imports a higher layer: {upward}"


def test_no_import_cycle():
    """Tarjan's strongly connected components over every import: each must be a single module."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_only_the_command_line_imports_argparse():
    users = sorted(name for name, path in modules().items()
                   if "argparse" in {alias.name for node in ast.walk(ast.parse(path.read_text()))
                                     if isinstance(node, ast.Import) for alias in node.names}
                   | {node.module for node in ast.walk(ast.parse(path.read_text()))
                      if isinstance(node, ast.ImportFrom) and node.module})
    assert all(name.startswith("concbench.cli") for name in users), users


def test_the_checker_sees_a_planted_cycle_and_an_upward_import(tmp_path):
    """The checks above would pass on an empty graph: prove they read imports, on a fake two-module package."""
    global GRAPH
    saved = GRAPH
    try:
        GRAPH = {"concbench.results.a": {"concbench.studies.b"}, "concbench.studies.b": {"concbench.results.a"}}
        with pytest.raises(AssertionError, match="import cycles"):
            test_no_import_cycle()
        with pytest.raises(AssertionError, match="imports a higher layer"):
            test_imports_point_down("concbench.results.a")
    finally:
        GRAPH = saved
    assert GRAPH["concbench.cli"] or any(name.startswith("concbench.cli.") for name in GRAPH)
