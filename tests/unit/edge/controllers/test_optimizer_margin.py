"""The forecast's recent error above it: the high scenario's margin."""

from __future__ import annotations

import numpy as np
import pytest

from ems.edge.controllers.optimizer import OptimizerParams
from ems.edge.controllers.optimizer.margin import ErrorMargin, pv_shortfall_w, upper_margin_w
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


def test_the_pv_shortfall_is_the_forecast_less_a_grey_day_of_the_site() -> None:
    # 14 days of PV: 2 kW at every step, but one grey day a week at 200 W.
    level = np.where(np.arange(14) % 7 == 3, 200.0, 2000.0)
    pv = Series(DAY0, 900.0, np.repeat(level, DAY))
    forecast = np.full(DAY, 2500.0)
    short = pv_shortfall_w(forecast, pv, pv.end_s, 14, 90.0)
    # The 10th percentile of twelve 2 kW days and two 200 W ones: 200 + 0.3·1800 W.
    np.testing.assert_allclose(short, 2500.0 - 740.0)
    # Over the last 7 days only one grey day: the 10th percentile is 1,280 W.
    np.testing.assert_allclose(pv_shortfall_w(forecast, pv, pv.end_s, 7, 90.0), 1220.0)
    # A forecast below the low PV leaves no margin; no measured PV leaves the forecast.
    assert pv_shortfall_w(np.full(DAY, 100.0), pv, pv.end_s, 14, 90.0).max() == 0.0
    empty = Series(DAY0, 900.0, np.full(14 * DAY, np.nan))
    np.testing.assert_allclose(pv_shortfall_w(forecast, empty, empty.end_s, 14, 90.0), 2500.0)


def test_the_pv_low_window_is_checked() -> None:
    with pytest.raises(ValueError, match="peak_pv_low_days"):
        OptimizerParams(capacity_wh=1000, peak_pv_low_days=-1)
