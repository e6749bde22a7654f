"""Ranges as a table: how narrowings combine."""

from __future__ import annotations

import pytest

from ems.edge.ranges import Range


def r(lo: float | None, hi: float | None, by: str = "a", pinned: bool = False) -> Range:
    return Range(lo, hi, by, f"{by} says", pinned)


@pytest.mark.parametrize(
    ("older", "newer", "bounds", "by"),
    [
        (r(None, None), r(0, None, "b"), (0, None), "b"),
        (r(-1000, 1000), r(500, None, "b"), (500, 1000), "b"),  # intersect
        (r(-1000, 1000), r(-2000, 2000, "b"), (-1000, 1000), "a"),  # nothing tighter
        (r(None, -1000), r(500, None, "b"), (500, None), "b"),  # conflict: the newer wins
        (r(300, 300, pinned=True), r(0, 1000, "b"), (300, 300), "a"),  # a pin inside: kept
        (r(-1000, 1000), r(-50, -50, "m", pinned=True), (-50, -50), "m"),  # a pin replaces
        (r(2000, None), r(-50, -50, "m", pinned=True), (-50, -50), "m"),
    ],
)
def test_then(older: Range, newer: Range, bounds: tuple[float | None, ...], by: str) -> None:
    combined = older.then(newer)
    assert (combined.min, combined.max) == bounds
    assert combined.by == by


def test_clamp_and_str() -> None:
    rng = r(-500, 2000)
    assert [rng.clamp(v) for v in (-900, 0, 2500)] == [-500, 0, 2000]
    assert str(rng) == "[-500, 2000]" and str(r(None, 3)) == "[-inf, 3]"
