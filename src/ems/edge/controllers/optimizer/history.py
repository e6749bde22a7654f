"""What the optimiser measures as it goes: step means of load and PV, the month's peak.

The cycle's readings are averaged per plan step (each cycle's sample counts
once), which is what a forecaster learns from (:class:`ems.forecast.Series`),
and the grid import per quarter hour, whose highest mean this local month is
the demand charge's base already billed.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np

from ems.forecast import Series

__all__ = ["MonthPeak", "StepMeans"]


class StepMeans:
    """Means of one quantity per step of ``step_s``, the last ``keep_steps`` of them."""

    def __init__(self, step_s: float, keep_steps: int) -> None:
        self.step_s = step_s
        self._keep = keep_steps
        self._sums: dict[int, tuple[float, int]] = {}

    def add(self, t_s: float, value: float) -> None:
        k = math.floor(t_s / self.step_s)
        total, count = self._sums.get(k, (0.0, 0))
        self._sums[k] = (total + value, count + 1)
        if len(self._sums) > self._keep:
            del self._sums[min(self._sums)]

    def seed(self, history: Series) -> int:
        """Take measured step means from before the run (``history``'s steps must be this
        one's), each as one sample, where this one has none yet; returns how many
        steps it took. The newest ``keep_steps`` are kept."""
        if abs(history.step_s - self.step_s) > 1e-9:
            raise ValueError(f"step_s: the history's {history.step_s} s is not {self.step_s} s")
        taken = 0
        first = round(history.start_s / self.step_s)
        for offset, value in enumerate(history.values.tolist()):
            k = first + offset
            if math.isfinite(value) and k not in self._sums:
                self._sums[k] = (value, 1)
                taken += 1
        for k in sorted(self._sums)[: max(len(self._sums) - self._keep, 0)]:
            del self._sums[k]
        return taken

    def mean(self, k: int) -> float | None:
        """The mean of step ``k`` (``k·step_s`` from the epoch), ``None`` if not measured."""
        got = self._sums.get(k)
        return None if got is None else got[0] / got[1]

    def series(self, before_s: float) -> Series:
        """The kept steps before ``before_s`` (NaN where nothing was measured)."""
        end = math.floor(before_s / self.step_s)
        start = min(self._sums, default=end)
        start = min(start, end - 1)
        values = np.array(
            [np.nan if (m := self.mean(k)) is None else m for k in range(start, end)],
            dtype=np.float64,
        )
        return Series(start * self.step_s, self.step_s, values)


class MonthPeak:
    """The highest 15-min mean grid import [W] of the current local month, from the
    quarter hours this controller saw whole or in part."""

    QUARTER_S = 900.0

    def __init__(self, timezone: str) -> None:
        self._tz = ZoneInfo(timezone)
        self._quarter: int | None = None
        self._sum_w = 0.0
        self._count = 0
        self._month: tuple[int, int] | None = None
        self.peak_w = 0.0

    def add(self, t_s: float, grid_w: float) -> None:
        quarter = math.floor(t_s / self.QUARTER_S)
        if quarter != self._quarter:
            self._close()
            self._quarter = quarter
            local = dt.datetime.fromtimestamp(quarter * self.QUARTER_S, self._tz)
            month = (local.year, local.month)
            if month != self._month:
                self._month = month
                self.peak_w = 0.0  # a new billing month starts from nothing
        self._sum_w += max(grid_w, 0.0)
        self._count += 1

    def _close(self) -> None:
        if self._count:
            self.peak_w = max(self.peak_w, self._sum_w / self._count)
        self._sum_w = 0.0
        self._count = 0
