"""Allowed ranges of numeric outputs within one cycle: how controllers compose.

Controllers run lowest priority first and the last write wins (DESIGN 4). A
controller may also *narrow* an output's range ("discharge at least 2000 W"):
the value staged so far by less important controllers is clamped into it, and
so is every later write, for the rest of the cycle. So a more important
controller can bound a less important one without taking the output over
(peak shaving over self-consumption, as OpenEMS's constraints do).

Narrowings intersect. When two do not overlap, the later one wins: it comes
from the more important controller. A *pin* (the operator's manual hold)
replaces the range outright with a single value: the operator outranks
every automatic policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Clamp", "Range"]


@dataclass(frozen=True, slots=True)
class Range:
    """An output's allowed range, in the output's unit (``None`` = unbounded)."""

    min: float | None
    max: float | None
    by: str  # id of the controller that set the bound
    reason: str
    pinned: bool = False

    def __post_init__(self) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"empty range [{self.min}, {self.max}]")

    def clamp(self, value: float) -> float:
        if self.max is not None and value > self.max:
            value = self.max
        if self.min is not None and value < self.min:
            value = self.min
        return value

    def then(self, newer: Range) -> Range:
        """This range narrowed by a newer one (the newer wins where they conflict)."""
        if newer.pinned:
            return newer
        lo = _pick(self.min, newer.min, max)
        hi = _pick(self.max, newer.max, min)
        if lo is not None and hi is not None and lo > hi:
            return newer
        if (lo, hi) == (self.min, self.max):
            return self  # nothing tighter: the older bound still explains the range
        return Range(lo, hi, newer.by, newer.reason)

    def __str__(self) -> str:
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "+inf" if self.max is None else f"{self.max:g}"
        return f"[{lo}, {hi}]"


@dataclass(frozen=True, slots=True)
class Clamp:
    """A value moved into a range: who wanted what, and which bound applied why."""

    address: str
    wanted: float
    applied: float
    range: Range

    def __str__(self) -> str:
        return (
            f"{self.address}: {self.wanted:g} clamped to {self.applied:g} by "
            f"{self.range.by} {self.range} ({self.range.reason})"
        )


def _pick(
    a: float | None, b: float | None, tighter: Callable[[float, float], float]
) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return tighter(a, b)
