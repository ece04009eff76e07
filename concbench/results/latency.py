"""Latency statistics from recorded nanosecond samples: nearest-rank percentiles, in seconds.

Pure computation: no I/O, no clocks.
"""
from __future__ import annotations

import math

# The percentiles every measurement reports (name -> percent).
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}


def nearest_rank(percent: float, count: int) -> int:
    """The 1-based rank of the smallest sample with at least `percent` of samples at or below it."""
    rank = math.ceil(round(percent * count / 100.0, 9))   # round: 99.9 * 1000 / 100 is 999.0000000000001
    return min(max(rank, 1), count)


def summarize(latencies_ns) -> dict:
    """{'p50': s, 'p90': s, 'p99': s, 'p99.9': s, 'max': s, 'mean': s}; empty dict for no samples."""
    if len(latencies_ns) == 0:
        return {}
    import numpy as np   # imported here: `serve` processes never pay for it
    values = np.sort(np.frombuffer(latencies_ns, dtype=np.int64))
    result = {name: float(values[nearest_rank(percent, len(values)) - 1]) / 1e9
              for name, percent in PERCENTILES.items()}
    result["max"] = float(values.max()) / 1e9
    result["mean"] = float(values.mean()) / 1e9
    return result
