"""Latency statistics from recorded nanosecond samples: nearest-rank percentiles, in seconds.

Pure computation: no I/O, no clocks.
"""
from __future__ import annotations

# The percentiles every measurement reports (name -> percent).
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}


def summarize(latencies_ns) -> dict:
    """{'p50': s, 'p90': s, 'p99': s, 'p99.9': s, 'max': s, 'mean': s}; empty dict for no samples."""
    if len(latencies_ns) == 0:
        return {}
    import numpy as np   # imported here: `serve` processes never pay for it
    values = np.frombuffer(latencies_ns, dtype=np.int64) if not isinstance(latencies_ns, np.ndarray) else latencies_ns
    points = np.percentile(values, list(PERCENTILES.values()), method="inverted_cdf")
    result = {name: float(v) / 1e9 for name, v in zip(PERCENTILES, points)}
    result["max"] = float(values.max()) / 1e9
    result["mean"] = float(values.mean()) / 1e9
    return result
