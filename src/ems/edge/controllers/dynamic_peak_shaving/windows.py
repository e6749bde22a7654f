"""15-min means of a quantity measured every cycle: the net-load history the forecast
learns from, and the month's billed peak (the mean import of its worst 15 min)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from ems.forecast.base import STEP_S, Series

__all__ = ["LoadHistory", "MonthPeak", "WindowMean"]


class WindowMean:
    """Means over aligned windows of ``step_s``; :meth:`add` returns the window that
    closed (its start [s] and mean) when a sample falls into a new one."""

    def __init__(self, step_s: float = STEP_S) -> None:
        self.step_s = step_s
        self._index: int | None = None
        self._sum = 0.0
        self._count = 0

    def add(self, now_s: float, value: float) -> tuple[float, float] | None:
        index = math.floor(now_s / self.step_s)
        closed = None
        if self._index is not None and index != self._index and self._count:
            closed = (self._index * self.step_s, self._sum / self._count)
        if index != self._index:
            self._index, self._sum, self._count = index, 0.0, 0
        self._sum += value
        self._count += 1
        return closed


class LoadHistory:
    """The last ``days`` of 15-min mean net load, as a :class:`Series` for a forecaster."""

    def __init__(self, days: int, step_s: float = STEP_S) -> None:
        self._window = WindowMean(step_s)
        self._keep = round(days * 86400.0 / step_s)
        self._means: dict[int, float] = {}

    def add(self, now_s: float, net_load_w: float) -> None:
        closed = self._window.add(now_s, net_load_w)
        if closed is None:
            return
        index = round(closed[0] / self._window.step_s)
        self._means[index] = closed[1]
        for old in [i for i in self._means if i <= index - self._keep]:
            del self._means[old]

    def seed(self, history: Series, before_s: float) -> None:
        """Take the 15-min means of ``history`` that end by ``before_s`` (measured before
        the run) where none was measured; ``history``'s step must be this one's."""
        if abs(history.step_s - self._window.step_s) > 1e-9:
            raise ValueError(f"step_s: the history's {history.step_s} s is not {STEP_S} s")
        first = round(history.start_s / history.step_s)
        for offset, value in enumerate(history.values.tolist()):
            index = first + offset
            end_s = (index + 1) * history.step_s
            if math.isfinite(value) and end_s <= before_s + 1e-6:
                self._means.setdefault(index, value)
        newest = max(self._means, default=0)
        for old in [i for i in self._means if i <= newest - self._keep]:
            del self._means[old]

    @property
    def span_s(self) -> float:
        """Time between the first and the last closed window's start."""
        if not self._means:
            return 0.0
        return (max(self._means) - min(self._means)) * self._window.step_s

    def series(self) -> Series | None:
        if not self._means:
            return None
        first, last = min(self._means), max(self._means)
        values = np.full(last - first + 1, np.nan)
        for index, mean in self._means.items():
            values[index - first] = mean
        return Series(first * self._window.step_s, self._window.step_s, values)


class MonthPeak:
    """The highest 15-min mean import of the current month in the site's local time;
    a new month starts from 0 (last month's peak is billed already)."""

    def __init__(self, timezone: str, step_s: float = STEP_S) -> None:
        self._zone = ZoneInfo(timezone)
        self._window = WindowMean(step_s)
        self._month: tuple[int, int] | None = None
        self._peak_w = 0.0

    def month_of(self, t_s: float) -> tuple[int, int]:
        local = datetime.fromtimestamp(t_s, UTC).astimezone(self._zone)
        return (local.year, local.month)

    def add(self, now_s: float, import_w: float) -> None:
        closed = self._window.add(now_s, max(import_w, 0.0))
        if closed is not None:
            start_s, mean_w = closed
            self._roll(start_s)
            self._peak_w = max(self._peak_w, mean_w)
        self._roll(now_s)

    def peak_w(self, now_s: float) -> float:
        return 0.0 if self._month != self.month_of(now_s) else self._peak_w

    def _roll(self, t_s: float) -> None:
        month = self.month_of(t_s)
        if self._month is None or month > self._month:
            self._month, self._peak_w = month, 0.0

    def restore(self, month: tuple[int, int], peak_w: float) -> None:
        self._month, self._peak_w = month, peak_w

    @property
    def peak_w_raw(self) -> float:
        """The peak held for :attr:`month` (whatever the time now)."""
        return self._peak_w

    @property
    def month(self) -> tuple[int, int] | None:
        return self._month
