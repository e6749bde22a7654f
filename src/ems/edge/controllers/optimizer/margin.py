"""How far the net load has come out above its forecast: the plan's reserve for the peak.

A demand charge bills the month's highest 15-min import, and a peak once made
stays billed: a plan that trusts its forecast spends the battery on the day's
energy prices and finds it short when the real load comes out higher than the
forecast at the peak. So, with a demand charge, the LP gets a second scenario,
the forecast *plus* the error the forecasters made lately at the same time of
day (:func:`upper_margin_w`), which shares the plan's battery schedule until
the two can be told apart (the planner's ``steps_alike``) and weighs as much
in the objective: the plan keeps the energy that holding the peak in it would
take. (Adding the margin to the forecast itself makes the follower,
which holds the grid at the plan's target, import the margin.)

The error is measured by forecasting each of the last ``days`` days (from UTC
midnight, with only the history before it, as the forecaster would have done)
and taking, per step of the day, the given quantile of the net load's excess
over its forecast (0 where the forecast was high). Computed once per day.

The PV part of that error is sized on a week's forecasts, and a month's billed
peak is made on its one grey morning: so the high scenario's margin is at least
the PV forecast less a low PV of the site's own (:func:`pv_shortfall_w`, per
time of day the ``100 − quantile`` percentile of the PV measured over the last
days, e.g. the 10th of 14): the plan keeps the energy a grey day would need.
"""

from __future__ import annotations

import math

import numpy as np

from ems.forecast import Forecaster, Series
from ems.forecast.base import FloatArray
from ems.forecast.lookup import DAY_S, values_at

__all__ = ["ErrorMargin", "pv_shortfall_w", "upper_margin_w"]


def upper_margin_w(
    load_fc: Forecaster,
    pv_fc: Forecaster,
    load: Series,
    pv: Series,
    day_start_s: float,
    days: int,
    quantile_pct: float,
) -> FloatArray:
    """Per step of the day from ``day_start_s``: the ``quantile_pct`` quantile, over the
    last ``days`` days measured, of (net load − its forecast), at least 0 [W]. All 0
    with no day measured."""
    steps = round(DAY_S / load.step_s)
    excess = []
    for back in range(1, days + 1):
        start_s = day_start_s - back * DAY_S
        times_s = start_s + load.step_s * np.arange(steps, dtype=np.float64)
        actual = values_at(load, times_s, day_start_s) - np.nan_to_num(
            values_at(pv, times_s, day_start_s), nan=0.0
        )
        if np.isnan(actual).all():
            continue
        before_load = _before(load, start_s)
        before_pv = _before(pv, start_s)
        if not np.isfinite(before_load.values).any():
            continue  # nothing to forecast from: the error would be the whole load
        net_fc = load_fc.forecast(before_load, start_s, steps).values - np.clip(
            pv_fc.forecast(before_pv, start_s, steps).values, 0.0, None
        )
        excess.append(np.clip(actual - net_fc, 0.0, None))
    if not excess:
        return np.zeros(steps)
    stacked = np.vstack(excess)
    with np.errstate(all="ignore"):
        got = np.nanpercentile(stacked, quantile_pct, axis=0)
    return np.asarray(np.nan_to_num(got, nan=0.0), dtype=np.float64)


def pv_shortfall_w(
    pv_forecast_w: FloatArray, pv: Series, start_s: float, days: int, quantile_pct: float
) -> FloatArray:
    """Per step from ``start_s``: the PV forecast less the ``100 − quantile_pct``
    percentile of the PV measured at the same time of day over the last ``days`` days,
    at least 0 [W]; the whole forecast where nothing was measured."""
    n = len(pv_forecast_w)
    rows = [
        values_at(pv, start_s - back * DAY_S + pv.step_s * np.arange(n, dtype=np.float64), start_s)
        for back in range(1, days + 1)
    ]
    if not rows:
        return np.zeros(n)
    stacked = np.vstack(rows)
    low = np.zeros(n)
    seen = ~np.isnan(stacked).all(axis=0)
    if seen.any():
        low[seen] = np.nanpercentile(stacked[:, seen], 100.0 - quantile_pct, axis=0)
    return np.asarray(np.clip(pv_forecast_w - low, 0.0, None), dtype=np.float64)


def _before(series: Series, before_s: float) -> Series:
    keep = max(0, min(len(series.values), math.floor((before_s - series.start_s) / series.step_s)))
    return Series(series.start_s, series.step_s, series.values[:keep])


class ErrorMargin:
    """:func:`upper_margin_w` for the UTC day under way, recomputed when a new one starts."""

    def __init__(self, days: int, quantile_pct: float) -> None:
        self.days = days
        self.quantile_pct = quantile_pct
        self._day: float | None = None
        self._margin_w: FloatArray = np.zeros(0)

    def over(
        self,
        load_fc: Forecaster,
        pv_fc: Forecaster,
        load: Series,
        pv: Series,
        start_s: float,
        steps: int,
    ) -> FloatArray:
        """The margin of each of ``steps`` steps from ``start_s`` [W], by its time of day."""
        day = math.floor(start_s / DAY_S) * DAY_S
        if day != self._day:
            self._margin_w = upper_margin_w(
                load_fc, pv_fc, load, pv, day, self.days, self.quantile_pct
            )
            self._day = day
        per_day = len(self._margin_w)
        slot = np.floor((start_s - day) / load.step_s + 1e-9).astype(np.int64)
        return np.asarray(self._margin_w[(slot + np.arange(steps)) % per_day], dtype=np.float64)
