"""Latency histograms with HdrHistogram's guarantees: 3 significant digits over 1 ns .. 2^62 ns.

Values (nanoseconds) are bucketed log-linearly: exact below 2048, then 1024 sub-buckets per power
of two, so every bucket is narrower than 1/1024 of its values (relative error < 0.1%). Histograms
are sparse {index: count}, merge by adding counts, and encode to one compact string for results.
Pure computation: no I/O, no clocks. Recording stays an array append in the load generator.
"""
from __future__ import annotations

import base64
import zlib

import numpy as np

from concbench.results.latency import nearest_rank

SUB_BUCKET_BITS = 11                 # 2048 exact values, then 1024 sub-buckets per power of two
EXACT = 1 << SUB_BUCKET_BITS         # 2048
HALF = EXACT >> 1                    # 1024
ENCODING_PREFIX = "hdr1:"


def indices(values_ns) -> np.ndarray:
    """Bucket index of every value (int64 ns, >= 0)."""
    values = np.asarray(values_ns, dtype=np.int64)
    values = np.maximum(values, 0)
    _, exponent = np.frexp(values.astype(np.float64))      # bit_length, exact below 2**53
    shift = np.maximum(exponent - SUB_BUCKET_BITS, 0)
    sub = values >> shift                                     # in [1024, 2048) once shifted
    return np.where(values < EXACT, values, EXACT + (shift - 1) * HALF + (sub - HALF))


def lowest_value(index: int) -> int:
    """Smallest value that falls in bucket `index`."""
    if index < EXACT:
        return index
    shift = (index - EXACT) // HALF + 1
    sub = (index - EXACT) % HALF + HALF
    return sub << shift


def highest_value(index: int) -> int:
    """Largest value that falls in bucket `index` (what percentiles report, as HdrHistogram does)."""
    if index < EXACT:
        return index
    shift = (index - EXACT) // HALF + 1
    return lowest_value(index) + (1 << shift) - 1


class Histogram:
    """Sparse counts by bucket index."""

    def __init__(self, counts: dict[int, int] | None = None):
        self.counts: dict[int, int] = dict(counts or {})

    @classmethod
    def from_values(cls, values_ns) -> "Histogram":
        if len(values_ns) == 0:
            return cls()
        unique, counts = np.unique(indices(values_ns), return_counts=True)
        return cls(dict(zip(unique.tolist(), counts.tolist())))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def merge(self, other: "Histogram") -> "Histogram":
        merged = dict(self.counts)
        for index, count in other.counts.items():
            merged[index] = merged.get(index, 0) + count
        return Histogram(merged)

    def percentile(self, percent: float) -> int:
        """Nearest-rank percentile (ns), reported as the bucket's highest equivalent value."""
        total = self.total
        if total == 0:
            raise ValueError("empty histogram")
        rank = nearest_rank(percent, total)
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return highest_value(index)
        raise AssertionError("unreachable")

    def max(self) -> int:
        return highest_value(max(self.counts))

    def encode(self) -> str:
        """One line: prefix + base64(zlib(int64 pairs)); for pyperf run metadata."""
        if not self.counts:
            return ENCODING_PREFIX
        pairs = np.array(sorted(self.counts.items()), dtype=np.int64)
        deltas = pairs.copy()
        deltas[1:, 0] = np.diff(pairs[:, 0])                   # small numbers compress well
        return ENCODING_PREFIX + base64.b64encode(zlib.compress(deltas.tobytes(), 9)).decode()

    @classmethod
    def decode(cls, text: str) -> "Histogram":
        if not text.startswith(ENCODING_PREFIX):
            raise ValueError("not an encoded concbench histogram")
        body = text[len(ENCODING_PREFIX):]
        if not body:
            return cls()
        deltas = np.frombuffer(zlib.decompress(base64.b64decode(body)), dtype=np.int64).reshape(-1, 2).copy()
        deltas[:, 0] = np.cumsum(deltas[:, 0])
        return cls(dict(zip(deltas[:, 0].tolist(), deltas[:, 1].tolist())))
