"""The learned forecaster's inputs: the calendar in the site's time zone, and lags.

Lags are what persistence would say (the same time yesterday and last week,
from before the forecast's start), so the model learns when to trust which,
and how the calendar bends them.
"""

from __future__ import annotations

import numpy as np

from ems.forecast.base import FloatArray, Series
from ems.forecast.lookup import DAY_S, WEEK_S, values_at

__all__ = ["CALENDAR_NAMES", "LAG_NAMES", "calendar_features", "lag_features"]

CALENDAR_NAMES = ("hour_of_day", "weekday", "weekend", "day_of_year")
LAG_NAMES = ("lag_1d", "lag_7d")


def calendar_features(times_s: FloatArray, timezone: str) -> FloatArray:
    """Columns :data:`CALENDAR_NAMES` for each instant (local time of ``timezone``):
    fractional hour, weekday (Monday 0), weekend flag (Saturday, Sunday; public
    holidays are not known here), day of year (1-366)."""
    import pandas as pd

    local = pd.DatetimeIndex(pd.to_datetime(times_s, unit="s", utc=True)).tz_convert(timezone)
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    weekday = local.day_of_week.to_numpy()
    return np.column_stack([hour, weekday, weekday >= 5, local.day_of_year.to_numpy()]).astype(
        np.float64
    )


def lag_features(history: Series, times_s: FloatArray, before_s: float | None = None) -> FloatArray:
    """Columns :data:`LAG_NAMES`: the value a day and a week before each instant, or whole
    days/weeks further back where that would be at or after ``before_s`` (a forecast's
    start; ``None`` for training rows, whose lags are always in their past). NaN where
    the history has nothing; the model takes NaN as "missing"."""
    cut_s = history.end_s if before_s is None else before_s
    columns = []
    for period_s in (DAY_S, WEEK_S):
        if before_s is None:
            back = np.ones_like(times_s)
        else:
            back = np.maximum(1.0, np.floor((times_s - before_s) / period_s) + 1.0)
        columns.append(values_at(history, times_s - back * period_s, cut_s))
    return np.column_stack(columns)
