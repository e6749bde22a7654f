"""The learned forecaster: it learns a known pattern, and falls back to persistence when it must."""

from __future__ import annotations

import numpy as np

from ems.forecast import Series
from ems.forecast.clearsky import ArrayGeometry, SiteLocation
from ems.forecast.learned import LearnedForecaster
from ems.forecast.persistence import PersistenceForecaster

STEP_S = 900.0
DAY = 96
DAY_S = 86_400.0
START_S = 1_767_571_200.0  # 2026-01-05T00:00Z, a Monday


def _weekly_load(days: int, seed: int = 0) -> Series:
    """An office: a daytime bump on weekdays, a low flat weekend, 3 % noise."""
    t = np.arange(days * DAY)
    hour = (t % DAY) / 4.0
    weekday = (t // DAY) % 7
    shape = 500.0 + 2000.0 * np.exp(-(((hour - 13.0) / 3.5) ** 2))
    load = np.where(weekday < 5, shape, 400.0)
    noise = np.random.default_rng(seed).normal(1.0, 0.03, load.shape)
    return Series(START_S, STEP_S, load * noise)


def _mae(
    forecaster: LearnedForecaster | PersistenceForecaster, data: Series, first_day: int, days: int
) -> float:
    errors = []
    for d in range(first_day, first_day + days):
        start_s = START_S + d * DAY_S
        out = forecaster.forecast(data, start_s, DAY)
        errors.append(np.abs(out.values - data.values[d * DAY : (d + 1) * DAY]))
    return float(np.mean(errors))


def test_learns_a_weekly_pattern_and_beats_persistence() -> None:
    data = _weekly_load(63)
    learned = LearnedForecaster("load", "UTC", retrain_interval_s=100 * DAY_S)
    learned.fit(Series(START_S, STEP_S, data.values[: 49 * DAY]))
    assert learned.reason is None and learned.name == "learned"
    assert learned.holdout_mae_w is not None and learned.fallback_holdout_mae_w is not None
    assert learned.holdout_mae_w < learned.fallback_holdout_mae_w
    mae_learned = _mae(learned, data, 49, 14)
    mae_blend = _mae(PersistenceForecaster("blend"), data, 49, 14)
    mae_yesterday = _mae(PersistenceForecaster("yesterday"), data, 49, 14)
    assert mae_learned < 0.8 * min(mae_blend, mae_yesterday)


def test_too_little_data_falls_back_to_persistence() -> None:
    data = _weekly_load(10)
    learned = LearnedForecaster("load", "UTC", min_days=14.0)
    out = learned.forecast(data, data.end_s, DAY)
    assert learned.reason == "too_little_data"
    assert learned.name == "learned_fallback_persistence_best_recent"
    expected = PersistenceForecaster("best_recent").forecast(data, data.end_s, DAY)
    np.testing.assert_array_equal(out.values, expected.values)


def test_gaps_count_against_the_minimum() -> None:
    values = _weekly_load(20).values.copy()
    values[: 10 * DAY] = np.nan  # 20 days of calendar, 10 of data
    learned = LearnedForecaster("load", "UTC", min_days=14.0)
    learned.fit(Series(START_S, STEP_S, values))
    assert learned.reason == "too_little_data"


def test_worse_than_fallback_on_the_holdout_falls_back() -> None:
    # Flat 1 kW for five weeks, then a new 3 kW daily cycle in the holdout week:
    # yesterday's values follow it at once, trees trained on 1 kW cannot extrapolate.
    days = 42
    t = np.arange(days * DAY)
    values = np.full(days * DAY, 1000.0)
    late = t >= 35 * DAY
    values[late] = 3000.0 + 500.0 * np.sin(2 * np.pi * (t[late] % DAY) / DAY)
    data = Series(START_S, STEP_S, values)
    learned = LearnedForecaster("load", "UTC", fallback=PersistenceForecaster("yesterday"))
    learned.fit(data)
    assert learned.reason == "worse_than_fallback"
    assert learned.name == "learned_fallback_persistence_yesterday"
    assert learned.holdout_mae_w is not None and learned.fallback_holdout_mae_w is not None
    assert learned.holdout_mae_w > learned.fallback_holdout_mae_w
    out = learned.forecast(data, data.end_s, DAY)
    np.testing.assert_array_equal(out.values, values[-DAY:])


def test_deterministic_across_two_runs() -> None:
    data = _weekly_load(35, seed=3)
    runs = []
    for _ in range(2):
        learned = LearnedForecaster("load", "Europe/Berlin")
        runs.append(learned.forecast(data, data.end_s, DAY).values)
        assert learned.reason is None
    np.testing.assert_array_equal(runs[0], runs[1])


def test_retrains_on_schedule_and_never_reads_past_the_start() -> None:
    data = _weekly_load(35)
    learned = LearnedForecaster("load", "UTC", retrain_interval_s=7 * DAY_S)
    start_s = START_S + 28 * DAY_S
    assert learned.due(start_s)
    poisoned = data.values.copy()
    poisoned[28 * DAY :] = 1e7
    a = learned.forecast(data, start_s, DAY)
    assert learned.fitted_at_s == start_s and not learned.due(start_s + 6 * DAY_S)
    assert learned.due(start_s + 7 * DAY_S)
    other = LearnedForecaster("load", "UTC")
    b = other.forecast(Series(START_S, STEP_S, poisoned), start_s, DAY)
    np.testing.assert_array_equal(a.values, b.values)


def test_pv_is_zero_at_night_and_never_negative() -> None:
    site = SiteLocation(48.14, 11.58, 520.0)
    from ems.forecast.clearsky import ClearSky

    array = ArrayGeometry(30.0, 180.0)
    start_s = 1_781_049_600.0  # 2026-06-10T00:00Z
    days = 28
    clear = ClearSky(site, array, STEP_S).poa_w_m2(start_s, days * DAY)
    index = np.repeat(np.random.default_rng(5).uniform(0.2, 1.0, days), DAY)
    data = Series(start_s, STEP_S, clear * 5.0 * index)
    learned = LearnedForecaster("pv", "Europe/Berlin", site=site, array=array)
    out = learned.forecast(data, data.end_s, DAY)
    assert learned.reason in (None, "worse_than_fallback")
    night = ClearSky(site, array, STEP_S).poa_w_m2(data.end_s, DAY) == 0.0
    assert (out.values >= 0.0).all() and not np.isnan(out.values).any()
    assert (out.values[night] == 0.0).all()


def test_without_auto_fit_it_forecasts_with_its_floor_until_fitted() -> None:
    data = _weekly_load(28)
    learned = LearnedForecaster("load", "UTC", auto_fit=False)
    out = learned.forecast(data, data.end_s, DAY)
    assert learned.reason == "not_fitted" and learned.due(data.end_s)
    expected = PersistenceForecaster("best_recent").forecast(data, data.end_s, DAY)
    np.testing.assert_array_equal(out.values, expected.values)
    learned.fit(data)
    assert learned.reason is None and not learned.due(data.end_s)
