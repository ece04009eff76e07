"""The exit-code contract of every command and the exceptions for bad input (printed by the command line as one
line). Every code a command returns is defined here once; docs/cli.md and docs/robustness.md state them."""
from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    REGRESSION = 1        # compare, ab, regress: a regression; load, verify, ceiling, clients: a failed measurement
    USAGE = 2             # bad input, nothing started (compare, ab: inconclusive instead)
    INCONCLUSIVE = 2      # compare and ab: the data cannot decide
    BAD_INPUT = 3         # compare, ab, regress: bad input (2 means inconclusive there)
    CASE_FAILED = 4       # a runner was broken in every repetition of a case (named on stderr)
    WRITE_FAILED = 5      # the result file could not be written during a run (the last written copy is kept)
    BROKEN_PIPE = 141     # our stdout's reader went away (as a command killed by SIGPIPE)
    # and 128 + signal when interrupted: 130 SIGINT, 143 SIGTERM, 129 SIGHUP (concbench.harness.lifecycle.Interrupted)


class UsageError(Exception):
    """Bad input: reported as one line, exit 2."""


class BadInput(Exception):
    """Bad input to `compare` or `ab` (a file that is not a readable concbench result, sets sharing no case,
    a bad argument): one line, exit 3, because exit 2 means 'inconclusive' for those commands."""
