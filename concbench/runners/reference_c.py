"""reference-c: the C epoll echo server in tools/, compiled on first use, serving the common listener.

Not a Python concurrency model: it is the yardstick for the load generator's ceiling
(`make ceiling`), labelled as a reference and never part of the default suite.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from concbench.paths import BUILD, TOOLS

SOURCE = TOOLS / "epoll_echo.c"
BINARY = BUILD / "epoll_echo"


def compile_c(source: Path, binary: Path) -> Path:
    """Compile `source` to `binary` if the binary is missing or older than its source."""
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError(f"building {source.name} needs a C compiler (cc or gcc) on PATH")
    binary.parent.mkdir(exist_ok=True)
    tmp = binary.with_name(f"{binary.name}.tmp{os.getpid()}")   # concurrent builds never share a file
    subprocess.run([compiler, "-O2", "-o", str(tmp), str(source)], check=True)
    tmp.replace(binary)
    return binary


def serve(listener, make_session, options, ready) -> None:
    binary = compile_c(SOURCE, BINARY)
    listener.set_inheritable(True)
    ready()                            # the listener already accepts; the binary serves it next
    os.execv(str(binary), [str(binary), str(listener.fileno())])
