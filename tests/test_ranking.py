"""Runners whose ranges overlap are not ranked against each other."""
from __future__ import annotations

from concbench.analysis.ranking import tiers


def test_clearly_apart_runners_are_ranked():
    assert tiers({"a": [100, 101, 102], "b": [50, 51, 52], "c": [10, 11]}) == [["a"], ["b"], ["c"]]


def test_overlapping_ranges_share_a_tier():
    assert tiers({"a": [100, 110, 120], "b": [95, 105, 115], "c": [10, 11]}) == [["a", "b"], ["c"]]


def test_overlap_chains_conservatively():
    # a overlaps b, b overlaps c: all three share a tier, even though a and c do not overlap
    assert tiers({"a": [90, 100], "b": [80, 92], "c": [70, 82]}) == [["a", "b", "c"]]
