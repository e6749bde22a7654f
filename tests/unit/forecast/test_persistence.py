"""Persistence: yesterday, last week, the blend, and each fallback down to 0."""

from __future__ import annotations

import numpy as np

from ems.forecast import Series
from ems.forecast.persistence import PersistenceForecaster

STEP_S = 900.0
DAY = 96
START_S = 1_767_225_600.0  # 2026-01-01T00:00Z


def _history(days: int, value_of_day: list[float] | None = None) -> Series:
    """Each day a constant (its index unless given), plus the step within the day / 1000."""
    values = np.concatenate(
        [
            np.full(DAY, value_of_day[d] if value_of_day else float(d)) + np.arange(DAY) / 1000.0
            for d in range(days)
        ]
    )
    return Series(START_S, STEP_S, values)


def test_yesterday_repeats_the_day_before() -> None:
    history = _history(8)
    out = PersistenceForecaster("yesterday").forecast(history, history.end_s, DAY)
    assert out.start_s == history.end_s
    np.testing.assert_allclose(out.values, 7.0 + np.arange(DAY) / 1000.0)


def test_last_week_repeats_the_same_weekday() -> None:
    history = _history(8)
    out = PersistenceForecaster("last_week").forecast(history, history.end_s, DAY)
    np.testing.assert_allclose(out.values, 1.0 + np.arange(DAY) / 1000.0)


def test_blend_weighs_both() -> None:
    history = _history(8)
    out = PersistenceForecaster("blend", yesterday_weight=0.75).forecast(history, history.end_s, 4)
    np.testing.assert_allclose(out.values, 0.75 * 7.0 + 0.25 * 1.0 + np.arange(4) / 1000.0)
    assert PersistenceForecaster("blend").name == "persistence_blend"


def test_a_forecast_beyond_a_day_uses_the_last_day_before_the_start() -> None:
    history = _history(8)
    out = PersistenceForecaster("yesterday").forecast(history, history.end_s, 2 * DAY)
    np.testing.assert_allclose(out.values[DAY:], out.values[:DAY])


def test_never_reads_past_the_start() -> None:
    history = _history(10)
    start_s = START_S + 8 * 86_400.0
    poisoned = history.values.copy()
    poisoned[8 * DAY :] = 1e9
    a = PersistenceForecaster("blend").forecast(history, start_s, DAY)
    b = PersistenceForecaster("blend").forecast(Series(START_S, STEP_S, poisoned), start_s, DAY)
    np.testing.assert_array_equal(a.values, b.values)


def test_yesterday_missing_falls_back_to_last_week() -> None:
    history = _history(8)
    values = history.values.copy()
    values[7 * DAY + 10 : 7 * DAY + 20] = np.nan  # a gap yesterday
    out = PersistenceForecaster("yesterday").forecast(
        Series(START_S, STEP_S, values), 8 * 86_400.0 + START_S, DAY
    )
    assert out.values[15] == 1.0 + 15 / 1000.0  # last week's
    assert out.values[5] == 7.0 + 5 / 1000.0  # yesterday's where it exists
    blend = PersistenceForecaster("blend").forecast(
        Series(START_S, STEP_S, values), history.end_s, DAY
    )
    assert blend.values[15] == 1.0 + 15 / 1000.0


def test_both_missing_falls_back_to_the_mean_profile() -> None:
    history = _history(3, [10.0, 20.0, 30.0])  # no last week at all
    values = history.values.copy()
    values[2 * DAY : 2 * DAY + 8] = np.nan  # yesterday's first two hours are missing
    out = PersistenceForecaster("yesterday").forecast(
        Series(START_S, STEP_S, values), history.end_s, DAY
    )
    np.testing.assert_allclose(out.values[:8], 15.0 + np.arange(8) / 1000.0)  # mean of days 0, 1
    np.testing.assert_allclose(out.values[8:], 30.0 + np.arange(8, DAY) / 1000.0)


def test_nothing_known_gives_zero_never_nan() -> None:
    empty = Series(START_S, STEP_S, np.zeros(0))
    out = PersistenceForecaster("blend").forecast(empty, START_S, DAY)
    np.testing.assert_array_equal(out.values, np.zeros(DAY))
    half = np.full(DAY, np.nan)
    half[:48] = 5.0  # only mornings were ever measured
    out = PersistenceForecaster("last_week").forecast(
        Series(START_S, STEP_S, half), START_S + 86_400.0, DAY
    )
    assert not np.isnan(out.values).any()
    np.testing.assert_array_equal(out.values, np.r_[np.full(48, 5.0), np.zeros(48)])


def test_best_recent_picks_last_week_for_a_weekly_pattern_and_yesterday_for_a_trend() -> None:
    days = 21
    day_of = np.repeat(np.arange(days), DAY)
    weekly = np.where(day_of % 7 < 5, 1000.0, 200.0)
    best = PersistenceForecaster("best_recent")
    out = best.forecast(Series(START_S, STEP_S, weekly), START_S + days * 86_400.0, DAY)
    assert best.chosen == "last_week" and best.name == "persistence_best_recent"
    np.testing.assert_array_equal(out.values, weekly[(days - 7) * DAY : (days - 6) * DAY])
    trend = 100.0 + 10.0 * day_of  # a slow drift: yesterday is closest
    best.forecast(Series(START_S, STEP_S, trend.astype(np.float64)), START_S + days * 86_400.0, DAY)
    assert best.chosen == "yesterday"
    empty = Series(START_S, STEP_S, np.zeros(0))
    assert not np.isnan(best.forecast(empty, START_S, DAY).values).any()
    assert best.chosen == "blend"
