"""reference-c: the C epoll echo server in tools/, compiled on first use, serving the common listener.

Not a Python concurrency model: it is the yardstick for the load generator's ceiling
(`make ceiling`), labelled as a reference and never part of the default suite.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "tools" / "epoll_echo.c"
BINARY = Path(__file__).resolve().parent.parent / "build" / "epoll_echo"


def build() -> Path:
    """Compile the reference server if the binary is missing or older than its source."""
    if BINARY.exists() and BINARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return BINARY
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("the reference-c runner needs a C compiler (cc or gcc) on PATH")
    BINARY.parent.mkdir(exist_ok=True)
    subprocess.run([compiler, "-O2", "-o", str(BINARY), str(SOURCE)], check=True)
    return BINARY


def serve(listener, make_session, options, ready) -> None:
    binary = build()
    listener.set_inheritable(True)
    ready()                            # the listener already accepts; the binary serves it next
    os.execv(str(binary), [str(binary), str(listener.fileno())])
