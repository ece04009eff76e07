"""Checks made before the first server starts, so that a run cannot measure for minutes and then fail:
the output path (writable, not a directory, room on disk, no silent replacement) and every runner option's value.

It owns those checks only; each problem is a UsageError of one line (exit 2) and nothing has been started.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path

from concbench.errors import UsageError

# A generous size of one measurement in a result file (the measurement run with its histogram, and its metric runs),
# twice (the atomic rewrite keeps the old file until the new one is complete), plus the charts and report.
BYTES_PER_MEASUREMENT = 64 * 1024
REPORT_BYTES = 8 * 1024 * 1024


def needed_bytes(measurements: int) -> int:
    return 2 * BYTES_PER_MEASUREMENT * max(measurements, 1) + REPORT_BYTES


def unique_path(path: Path) -> Path:
    """`path`, or the first of path-2, path-3... that does not exist (for the default, time-stamped name)."""
    if not path.exists():
        return path
    for n in range(2, 10000):
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise UsageError(f"no free file name like {path}")


def check_output(path: Path, measurements: int, *, force: bool = False, existing_ok: bool = False) -> None:
    """The result file can be written where asked: not a directory; an existing file only with force (or
    existing_ok, for --resume); its folder exists or can be made and takes a probe file; room for the results."""
    if path.is_dir():
        raise UsageError(f"-o {path} is a directory; name a file, e.g. {path / 'results.json'}")
    if path.exists() and not (force or existing_ok):
        raise UsageError(f"{path} exists ({path.stat().st_size:,} bytes); --force replaces it, "
                         f"--resume {path} continues it, or choose another -o")
    folder = path.absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder {folder} for the results: {exc.strerror or exc}") from None
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; the results cannot go there")
    try:
        fd, probe = tempfile.mkstemp(prefix=".concbench-probe-", dir=folder)
        try:
            os.write(fd, b"concbench: checking this folder takes a result file\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"cannot write the results in {folder}: {exc.strerror or exc}") from None
    if path.exists() and not os.access(path, os.W_OK) and not os.access(folder, os.W_OK):
        raise UsageError(f"{path} cannot be replaced (no write permission)")
    need = needed_bytes(measurements)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise UsageError(f"{folder} has {free / 1e6:.1f} MB free; {measurements} measurements and their report "
                         f"need about {need / 1e6:.1f} MB")


# Runner options, checked by value before any server starts (the runner would refuse the same values, but only
# when each server starts, once per measurement). Option name -> (check(text) -> problem or "", what is expected).
def _integer_at_least(minimum: int, zero_ok: bool = False):
    def check(text: str) -> str:
        try:
            value = int(text)
        except ValueError:
            return f"expected a whole number, got {text!r}"
        if zero_ok and value == 0:
            return ""
        return "" if value >= minimum else f"expected {'0 or ' if zero_ok else ''}at least {minimum}, got {value}"
    return check


def _positive_number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return f"expected a number, got {text!r}"
    return "" if value > 0 and math.isfinite(value) else f"expected a number above 0, got {text}"


def _one_of(*choices):
    def check(text: str) -> str:
        return "" if text in choices else f"expected one of {', '.join(choices)}, got {text!r}"
    return check


STACK_MIN = 32 * 1024        # threading.stack_size refuses less (0 means the platform default)
OPTION_CHECKS = {
    "stack_size": _integer_at_least(STACK_MIN, zero_ok=True),
    "switch_interval_ms": _positive_number,
    "workers": _integer_at_least(1),
    "max_workers": _integer_at_least(1),
    "pool": _integer_at_least(1),
    "loop": _one_of("uvloop", "asyncio"),
    "flow": _one_of("unbounded"),
    "idle_timeout": _positive_number,
}


def check_runner_options(options: dict[str, dict]) -> None:
    """options: runner -> {name: text}; UsageError naming the runner, option and problem for the first bad value.
    An option without a check here (a new runner's) is left to the runner when its server starts."""
    for runner, given in options.items():
        for name, text in given.items():
            check = OPTION_CHECKS.get(name)
            problem = check(str(text)) if check else ""
            if problem:
                raise UsageError(f"-O {runner}:{name}={text}: {problem}")
