"""The perfect forecast: a known future (benchmarks). ``forecast: naive`` of the optimiser
is persistence yesterday, tested with it."""

from __future__ import annotations

import numpy as np

from ems.forecast import Series
from ems.forecast.perfect import PerfectForecaster

STEP_S = 900.0


def test_the_perfect_forecast_is_the_mean_of_the_known_series_over_each_step() -> None:
    ramp = PerfectForecaster(lambda t: t / 60.0)  # 1 W more each minute
    history = Series(0.0, STEP_S, np.array([np.nan]))
    got = ramp.forecast(history, 1800.0, 2)
    assert got.start_s == 1800.0
    np.testing.assert_allclose(got.values, [37.5, 52.5])  # minutes 30–45 and 45–60
