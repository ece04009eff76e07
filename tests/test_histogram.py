"""Histogram: 3 significant digits over the whole range, merge equals recording everything in one."""
from __future__ import annotations

import numpy as np
import pytest

from concbench.results.histogram import Histogram, highest_value, indices, lowest_value


def test_buckets_are_exact_below_2048():
    values = np.arange(0, 2048)
    assert (indices(values) == values).all()


@pytest.mark.parametrize("value", [2048, 2049, 4095, 4096, 10**6, 123_456_789, 60 * 10**9, 2**52 + 12345])
def test_every_value_lies_in_its_bucket_within_a_thousandth(value):
    index = int(indices([value])[0])
    low, high = lowest_value(index), highest_value(index)
    assert low <= value <= high
    assert (high - low + 1) / low < 1 / 1000        # 3 significant digits


def test_indices_are_monotonic():
    values = np.unique(np.logspace(0, 11, 20000).astype(np.int64))
    assert (np.diff(indices(values)) >= 0).all()


def test_percentiles_of_known_inputs_within_precision():
    rng = np.random.default_rng(7)
    values = rng.integers(1_000, 60_000_000_000, size=50_000)     # 1 us .. 60 s
    hist = Histogram.from_values(values)
    ordered = np.sort(values)
    for percent in (50, 90, 99, 99.9, 99.99, 100):
        rank = int(np.ceil(percent / 100 * len(values)))
        exact = ordered[rank - 1]
        assert abs(hist.percentile(percent) - exact) <= exact / 1000, percent
    assert hist.total == 50_000


def test_merge_equals_recording_all_values_in_one():
    rng = np.random.default_rng(11)
    first = rng.integers(1_000, 10**9, size=5000)
    second = rng.integers(10**5, 10**10, size=7000)
    merged = Histogram.from_values(first).merge(Histogram.from_values(second))
    assert merged.counts == Histogram.from_values(np.concatenate([first, second])).counts


def test_encoding_round_trips_and_is_one_line():
    hist = Histogram.from_values(np.random.default_rng(3).integers(1, 10**10, size=10_000))
    text = hist.encode()
    assert "\n" not in text
    assert Histogram.decode(text).counts == hist.counts
    assert Histogram.decode(Histogram().encode()).total == 0
    with pytest.raises(ValueError):
        Histogram.decode("something else")
