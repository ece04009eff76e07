"""Result files: measurements written as pyperf BenchmarkSuite JSON, atomically, and read back.

It owns the file format (benchmark names, units, run metadata); it never measures.
"""
from __future__ import annotations

import json
import os
import tempfile


def write_json_atomically(path, data) -> None:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
