"""Percentiles of known inputs (nearest rank), in seconds."""
from __future__ import annotations

from array import array

from concbench.results.latency import summarize


def test_percentiles_of_one_to_a_thousand_microseconds():
    samples = array("q", (i * 1000 for i in range(1, 1001)))     # 1..1000 us in ns
    stats = summarize(samples)
    assert stats["p50"] == 500e-6
    assert stats["p90"] == 900e-6
    assert stats["p99"] == 990e-6
    assert stats["p99.9"] == 999e-6
    assert stats["max"] == 1000e-6
    assert abs(stats["mean"] - 500.5e-6) < 1e-12


def test_order_of_samples_does_not_matter():
    forward = array("q", range(1, 10001))
    backward = array("q", reversed(range(1, 10001)))
    assert summarize(forward) == summarize(backward)


def test_no_samples_gives_no_figures():
    assert summarize(array("q")) == {}
