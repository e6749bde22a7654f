"""The perfect forecast (a known future) and the naive one (yesterday's values)."""

from __future__ import annotations

import numpy as np
import pytest

from ems.forecast import Series
from ems.forecast.naive import DAY_S, NaiveForecaster
from ems.forecast.perfect import PerfectForecaster

STEP_S = 900.0
PER_DAY = 96


def test_the_perfect_forecast_is_the_mean_of_the_known_series_over_each_step() -> None:
    ramp = PerfectForecaster(lambda t: t / 60.0)  # 1 W more each minute
    history = Series(0.0, STEP_S, np.array([np.nan]))
    got = ramp.forecast(history, 1800.0, 2)
    assert got.start_s == 1800.0
    np.testing.assert_allclose(got.values, [37.5, 52.5])  # minutes 30–45 and 45–60


def test_the_naive_forecast_repeats_yesterday_and_never_returns_gaps() -> None:
    day = np.arange(PER_DAY, dtype=np.float64)
    values = np.concatenate([day, day + 1000.0])
    values[PER_DAY + 5] = np.nan  # a gap yesterday
    history = Series(0.0, STEP_S, values)
    start_s = 2 * DAY_S
    got = NaiveForecaster().forecast(history, start_s, 2 * PER_DAY)
    assert got.values[0] == 1000.0
    assert got.values[10] == 1010.0
    assert got.values[5] == pytest.approx(1095.0), "a gap: the last measured value"
    assert got.values[PER_DAY + 10] == 1010.0, "beyond a day: yesterday again"
    assert np.all(np.isfinite(got.values))


def test_the_naive_forecast_does_not_look_past_its_start() -> None:
    history = Series(0.0, STEP_S, np.array([1.0, 2.0, 3.0, 99.0]))
    got = NaiveForecaster().forecast(history, 3 * STEP_S, 1)
    assert got.values[0] == 3.0, "no yesterday: the last value before the start"


def test_with_no_history_the_naive_forecast_is_zero() -> None:
    got = NaiveForecaster().forecast(Series(0.0, STEP_S, np.array([np.nan])), STEP_S, 3)
    np.testing.assert_array_equal(got.values, [0.0, 0.0, 0.0])
