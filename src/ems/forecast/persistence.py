"""Persistence: tomorrow looks like yesterday, or like the same weekday last week.

The reference every other forecaster must beat. It needs no training and no
imports beyond numpy, and degrades step by step rather than return gaps:
the chosen day → the other day → the mean daily profile of all history there is
(by time of day) → 0.

Which day is the better guess depends on the site: a household's yesterday, a
business's last week (weekends). ``best_recent`` picks, at each forecast, the
mode with the lowest MAE over the last ``select_days`` days, each forecast from
its own midnight as it would have been.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ems.forecast.base import FloatArray, Series
from ems.forecast.lookup import DAY_S, WEEK_S, values_at

__all__ = ["Mode", "PersistenceForecaster", "daily_profile"]

Mode = Literal["yesterday", "last_week", "blend", "best_recent"]
_FIXED: tuple[Mode, ...] = ("blend", "yesterday", "last_week")  # best_recent's order on ties


class PersistenceForecaster:
    """Forecasts each step from the same time of the most recent day (or week) before the start.

    ``blend`` weighs yesterday by ``yesterday_weight`` and last week by the rest;
    where one of them is missing the other is used alone.
    """

    def __init__(
        self, mode: Mode = "blend", yesterday_weight: float = 0.5, select_days: int = 7
    ) -> None:
        if not 0.0 <= yesterday_weight <= 1.0:
            raise ValueError("yesterday_weight must be within [0, 1]")
        if select_days < 1:
            raise ValueError("select_days must be at least 1")
        self.mode: Mode = mode
        self.yesterday_weight = yesterday_weight
        self.select_days = select_days
        self.name = f"persistence_{mode}"
        #: The mode the last forecast used (``best_recent``'s pick).
        self.chosen: Mode = "blend" if mode == "best_recent" else mode

    def forecast(self, history: Series, start_s: float, steps: int) -> Series:
        if self.mode == "best_recent":
            self.chosen = self._best_recent(history, start_s)
        return self._forecast(self.chosen, history, start_s, steps)

    def _best_recent(self, history: Series, start_s: float) -> Mode:
        steps = round(DAY_S / history.step_s)
        errors = dict.fromkeys(_FIXED, 0.0)
        for days_back in range(1, self.select_days + 1):
            day_s = start_s - days_back * DAY_S
            day_times_s = day_s + history.step_s * np.arange(steps, dtype=np.float64)
            actual = values_at(history, day_times_s, start_s)
            if np.isnan(actual).all():
                continue
            for mode in _FIXED:
                predicted = self._forecast(mode, history, day_s, steps).values
                errors[mode] += float(np.nansum(np.abs(predicted - actual)))
        return min(_FIXED, key=lambda mode: errors[mode])

    def _forecast(self, mode: Mode, history: Series, start_s: float, steps: int) -> Series:
        times_s = start_s + history.step_s * np.arange(steps, dtype=np.float64)
        yesterday = _same_time_before(history, times_s, start_s, DAY_S)
        last_week = _same_time_before(history, times_s, start_s, WEEK_S)
        if mode == "yesterday":
            first, second = yesterday, last_week
        elif mode == "last_week":
            first, second = last_week, yesterday
        else:
            w = self.yesterday_weight
            first = w * yesterday + (1.0 - w) * last_week  # NaN where either is missing
            second = np.where(np.isnan(yesterday), last_week, yesterday)
        values = np.where(np.isnan(first), second, first)
        missing = np.isnan(values)
        if missing.any():
            profile = daily_profile(history, start_s)
            slot = _slot_of_day(times_s, history.step_s)
            values[missing] = profile[slot[missing]]
        return Series(start_s, history.step_s, np.nan_to_num(values, nan=0.0))


def _same_time_before(
    history: Series, times_s: FloatArray, start_s: float, period_s: float
) -> FloatArray:
    """The value one ``period_s`` before each instant, or whole periods further back
    for instants more than a period after the start (a horizon beyond 24 h)."""
    periods_back = np.maximum(1.0, np.floor((times_s - start_s) / period_s) + 1.0)
    return values_at(history, times_s - periods_back * period_s, start_s)


def _slot_of_day(times_s: FloatArray, step_s: float) -> FloatArray:
    slots = round(DAY_S / step_s)
    return np.asarray(np.floor((times_s % DAY_S) / step_s + 1e-9).astype(np.int64) % slots)


def daily_profile(history: Series, before_s: float) -> FloatArray:
    """The mean of each time-of-day step over the history before ``before_s``
    (NaN for a step of the day never measured). Times of day are UTC: the
    offset of a fixed zone only rotates the profile, which a lookup by UTC
    time of day undoes."""
    slots = round(DAY_S / history.step_s)
    times_s = history.times_s()
    keep = (times_s + history.step_s <= before_s + 1e-6) & ~np.isnan(history.values)
    slot = _slot_of_day(times_s[keep], history.step_s)
    sums = np.bincount(slot, weights=history.values[keep], minlength=slots)
    counts = np.bincount(slot, minlength=slots)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))
