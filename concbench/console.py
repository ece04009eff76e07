"""How much a command prints: -q (warnings and results only), default (progress too), -v (each measurement's
evidence as well). Set once by the command line; read by the code that prints progress. No other state.
"""
from __future__ import annotations

import sys

QUIET, NORMAL, VERBOSE = 0, 1, 2
verbosity = NORMAL


def set_verbosity(quiet: int, verbose: int) -> None:
    global verbosity
    verbosity = QUIET if quiet else VERBOSE if verbose else NORMAL


def progress(*args, **kwargs) -> None:
    """A progress line: printed unless -q."""
    if verbosity >= NORMAL:
        print(*args, **kwargs)


def detail(*args, **kwargs) -> None:
    """Evidence only -v asks for."""
    if verbosity >= VERBOSE:
        print(*args, **kwargs)


def warn(message: str) -> None:
    """Always shown (on stderr), -q included."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
