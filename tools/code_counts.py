#!/usr/bin/env python3
"""Structure counts of one revision of concbench (issue 11's before/after): the longest functions, the imports of
concbench modules placed inside functions (runners excluded), and the modules that import argparse.

  python tools/code_counts.py REV        e.g. 932922f (before the structure work) or HEAD
"""
import ast
import io
import subprocess
import sys
import tarfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def main(rev: str) -> None:
    data = subprocess.run(["git", "archive", rev, "concbench"], capture_output=True, cwd=REPOSITORY,
                          check=True).stdout
    archive = tarfile.open(fileobj=io.BytesIO(data))
    functions, local_imports, argparse_users = [], 0, set()
    for member in archive.getmembers():
        if not member.name.endswith(".py"):
            continue
        tree = ast.parse(archive.extractfile(member).read().decode())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((node.end_lineno - node.lineno + 1, f"{member.name}:{node.name}"))
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)) and "runners" not in member.name:
                        module = getattr(inner, "module", None) or ""
                        if getattr(inner, "level", 0) or module.startswith("concbench") or \
                                any(alias.name.startswith("concbench") for alias in inner.names):
                            local_imports += 1
            if isinstance(node, ast.Import) and any(alias.name == "argparse" for alias in node.names):
                argparse_users.add(member.name)
    functions.sort(reverse=True)
    print(f"{rev}: longest functions (lines): {functions[:6]}")
    print(f"imports of concbench modules inside functions (runners excluded): {local_imports}")
    print(f"modules importing argparse: {sorted(argparse_users)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "HEAD")
