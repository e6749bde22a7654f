"""The naive forecast: each step as it was 24 h before (yesterday's value).

A stand-in until :mod:`ems.forecast`'s persistence forecaster lands; same contract.

Where yesterday was not measured (the first day, a gap), the last measured
value holds; with no measurement at all the forecast is 0. Never NaN.
"""

from __future__ import annotations

import numpy as np

from ems.forecast.base import Series

__all__ = ["NaiveForecaster"]

DAY_S = 86_400.0


class NaiveForecaster:
    name = "naive"

    def forecast(self, history: Series, start_s: float, steps: int) -> Series:
        step_s = history.step_s
        known = history.values[history.times_s() < start_s]
        finite = known[np.isfinite(known)]
        last = float(finite[-1]) if len(finite) else 0.0
        values = np.full(steps, last)
        for k in range(steps):
            t = start_s + k * step_s - DAY_S
            while t >= start_s:  # a horizon beyond a day repeats yesterday
                t -= DAY_S
            j = round((t - history.start_s) / step_s)
            if 0 <= j < len(known) and np.isfinite(known[j]):
                values[k] = known[j]
        return Series(start_s, step_s, values)
