"""The import direction of the command line and the studies (read from the code with ast, imports inside functions
included): cli > studies > analysis > clients > harness > results > the model; no import cycle through cli/ or
studies/; only cli/ imports argparse; no study imports another study's command line."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "concbench"
LAYERS = {"cli": 6, "studies": 5, "analysis": 4, "clients": 3, "harness": 2, "results": 1}   # anything else: 0


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every concbench module a file imports, at module level or inside a function (`from a import b` counts as
    a.b when a.b is a module, else as a)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return {name for name in found if name.split(".")[0] == "concbench"}


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


def graph() -> dict[str, set[str]]:
    return {name: {target for target in imports_of(path) if target in MODULES and target != name}
            for name, path in MODULES.items()}


def in_our_packages(module: str) -> bool:
    return module in ("concbench.cli", "concbench.studies") or \
        module.startswith(("concbench.cli.", "concbench.studies."))


def test_cli_and_studies_import_only_downward():
    against = [f"{source} -> {target}" for source, targets in graph().items() if in_our_packages(source)
               for target in sorted(targets) if layer(target) > layer(source) and target != "concbench"]
    assert against == []


# Known, outside cli/ and studies/, and not a cycle: an external command is verified by harness/external_server.py with
# the probes of studies/verify.py (inside a function); it goes when the probes move onto the scenarios (issue 11).
KNOWN_UPWARD = {"concbench.harness.external_server -> concbench.studies.verify"}


def test_no_lower_layer_imports_cli_or_studies():
    upward = {f"{source} -> {target}" for source, targets in graph().items() if not in_our_packages(source)
              and source != "concbench.__main__" for target in targets if in_our_packages(target)}
    assert upward <= KNOWN_UPWARD, sorted(upward - KNOWN_UPWARD)


def strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the import cycles (components of more than one module)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycle_goes_through_cli_or_studies():
    cycles = [sorted(c) for c in strongly_connected(graph()) if any(in_our_packages(m) for m in c)]
    assert cycles == []


def test_the_cycle_finder_finds_a_cycle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_only_the_command_line_imports_argparse():
    readers = sorted(module for module, path in MODULES.items()
                     if any(isinstance(node, (ast.Import, ast.ImportFrom)) and
                            "argparse" in ([a.name for a in node.names] if isinstance(node, ast.Import)
                                           else [node.module])
                            for node in ast.walk(ast.parse(path.read_text()))))
    assert readers and all(module.startswith("concbench.cli.") for module in readers), readers
