"""The forecast's recent error above it: the high scenario's margin."""

from __future__ import annotations

import numpy as np
import pytest

from ems.edge.controllers.optimizer.margin import ErrorMargin, upper_margin_w
from ems.forecast import Series
from ems.forecast.persistence import PersistenceForecaster

DAY = 96
DAY0 = 1_781_049_600.0  # a UTC midnight


def _alternating_days(days: int) -> Series:
    """1,000 W on even days, 1,600 W on odd ones: yesterday's value is off by ±600 W."""
    level = np.where(np.arange(days) % 2 == 0, 1000.0, 1600.0)
    return Series(DAY0, 900.0, np.repeat(level, DAY))


def test_the_backtest_measures_the_error_above_the_forecast() -> None:
    load = _alternating_days(10)
    pv = Series(DAY0, 900.0, np.zeros(10 * DAY))
    yesterday = PersistenceForecaster("yesterday")
    # Half the days came out 600 W above yesterday's values: the 90th percentile.
    np.testing.assert_allclose(
        upper_margin_w(yesterday, yesterday, load, pv, load.end_s, 6, 90.0), 600.0
    )
    # The median of 0 and 600 W excess: 300 W; a forecaster always right leaves none.
    np.testing.assert_allclose(
        upper_margin_w(yesterday, yesterday, load, pv, load.end_s, 6, 50.0), 300.0
    )
    steady = Series(DAY0, 900.0, np.full(10 * DAY, 1000.0))
    flat = upper_margin_w(yesterday, yesterday, steady, pv, steady.end_s, 6, 90.0)
    assert flat.max() == pytest.approx(0.0)


def test_the_margins_follow_the_time_of_day_of_the_plan() -> None:
    load = _alternating_days(10)
    pv = Series(DAY0, 900.0, np.zeros(10 * DAY))
    yesterday = PersistenceForecaster("yesterday")
    upper = ErrorMargin(6, 90.0).over(
        yesterday, yesterday, load, pv, load.end_s + 6 * 3600.0, 2 * DAY
    )
    assert upper.shape == (2 * DAY,)
    np.testing.assert_allclose(upper, 600.0)
