"""The perfect forecast: a forecaster given the future when it was built (benchmarks only).

It reads nothing from the history it is handed: each step's forecast is the
mean of the known series over that step, sampled once a minute (linear
between the series' rows, as a replay device plays them), so a replayed data
set is forecast exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ems.forecast.base import Series

__all__ = ["PerfectForecaster"]

_SAMPLE_S = 60.0


class PerfectForecaster:
    """Forecasts ``known(t)`` [the quantity's unit at UTC epoch s ``t``] exactly."""

    name = "perfect"

    def __init__(self, known: Callable[[float], float]) -> None:
        self._known = known

    def forecast(self, history: Series, start_s: float, steps: int) -> Series:
        step_s = history.step_s
        samples = max(1, round(step_s / _SAMPLE_S))
        offsets = (np.arange(samples) + 0.5) * step_s / samples
        values = np.empty(steps)
        for k in range(steps):
            t0 = start_s + k * step_s
            values[k] = sum(self._known(t0 + float(o)) for o in offsets) / samples
        return Series(start_s, step_s, values)
