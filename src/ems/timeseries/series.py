"""A strictly increasing time series of floats with linear or step lookup.

Kept in ``array('d')`` rather than lists or numpy: a year at one row a minute
is half a million rows, 4 MB per column this way (about 30 MB as Python
floats), and the long-running edge stays free of numpy's import.
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass

__all__ = ["Series"]


@dataclass(frozen=True, slots=True)
class Series:
    """Values at strictly increasing instants ``times_s`` (UTC epoch s); at least one row."""

    times_s: array[float]
    values: array[float]

    def __post_init__(self) -> None:
        if len(self.times_s) != len(self.values) or not self.times_s:
            raise ValueError("a series needs as many values as times, and at least one")

    def linear(self, t_s: float) -> float:
        """The value at ``t_s``: linear between rows, held before the first and after the last."""
        times = self.times_s
        j = bisect.bisect_right(times, t_s)
        if j == 0:
            return self.values[0]
        if j == len(times):
            return self.values[-1]
        t0, t1 = times[j - 1], times[j]
        v0, v1 = self.values[j - 1], self.values[j]
        return v0 + (v1 - v0) * (t_s - t0) / (t1 - t0)

    def step(self, t_s: float) -> float:
        """The value of the last row at or before ``t_s`` (a price holds until the next row);
        the first row's value before the series starts."""
        j = bisect.bisect_right(self.times_s, t_s)
        return self.values[max(j - 1, 0)]

    @property
    def start_s(self) -> float:
        return self.times_s[0]

    @property
    def end_s(self) -> float:
        return self.times_s[-1]
