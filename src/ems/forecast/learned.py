"""A gradient-boosted model (LightGBM) of the site's own history, with persistence as its floor.

It learns from the calendar (site-local), the same time yesterday and last week,
and for PV the clear-sky irradiance on the array. Before a model is used it
must earn its place: trained on all but the last ``holdout_days``, it must
forecast those days (each from its midnight, as it will be used) with a lower
MAE than the fallback (by default persistence in its ``best_recent`` mode, the
strongest of yesterday, last week and their blend lately). Otherwise, or with
less than ``min_days`` of data, the fallback forecasts and ``reason`` says why:

``not_fitted``, ``too_little_data``, ``worse_than_fallback``; ``None`` when
the model is in use.

Deterministic: fixed seed, one thread, no bagging. LightGBM is imported when
a model is first trained: the edge's memory budget has no room for it on
sites that never learn.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ems.forecast.base import FloatArray, Forecaster, Series
from ems.forecast.clearsky import ArrayGeometry, ClearSky, SiteLocation
from ems.forecast.features import calendar_features, lag_features
from ems.forecast.lookup import DAY_S, history_before
from ems.forecast.persistence import PersistenceForecaster

if TYPE_CHECKING:
    import lightgbm

__all__ = ["LearnedForecaster", "Quantity"]

Quantity = Literal["load", "pv"]


class LearnedForecaster:
    """Forecasts ``quantity`` [W, ≥ 0]; ``site`` is required for PV (the clear-sky feature)."""

    def __init__(
        self,
        quantity: Quantity,
        timezone: str = "UTC",
        *,
        site: SiteLocation | None = None,
        array: ArrayGeometry | None = None,
        min_days: float = 14.0,
        holdout_days: float = 7.0,
        retrain_interval_s: float = 7 * DAY_S,
        max_train_days: float = 365.0,
        num_boost_round: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        seed: int = 0,
        auto_fit: bool = True,
        fallback: Forecaster | None = None,
    ) -> None:
        if quantity == "pv" and site is None:
            raise ValueError("site: required to forecast PV (the clear-sky feature)")
        if holdout_days >= min_days:
            raise ValueError("holdout_days: must be less than min_days")
        self.quantity: Quantity = quantity
        self.timezone = timezone
        self.min_days = min_days
        self.holdout_days = holdout_days
        self.retrain_interval_s = retrain_interval_s
        self.max_train_days = max_train_days
        self.auto_fit = auto_fit
        self.fallback: Forecaster = fallback or PersistenceForecaster("best_recent")
        self._params: dict[str, Any] = {
            "objective": "regression_l1",  # the figure of merit is MAE
            "learning_rate": learning_rate,
            "num_leaves": num_leaves,
            "min_data_in_leaf": 20,
            "seed": seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbosity": -1,
        }
        self._rounds = num_boost_round
        self._sky = ClearSky(site, array or ArrayGeometry(), 900.0) if site is not None else None
        self._model: lightgbm.Booster | None = None
        self.name = f"learned_fallback_{self.fallback.name}"
        #: Why the fallback forecasts (lower_snake), ``None`` while the model does.
        self.reason: str | None = "not_fitted"
        #: The end of the history of the last :meth:`fit` (UTC epoch s), ``None`` before.
        self.fitted_at_s: float | None = None
        #: MAE [W] of the model and of the fallback on the last holdout.
        self.holdout_mae_w: float | None = None
        self.fallback_holdout_mae_w: float | None = None
        #: Wall time of the last :meth:`fit` [s] (for the benchmark; not a budget).
        self.fit_duration_s = 0.0

    def due(self, now_s: float) -> bool:
        """Whether :meth:`fit` should run again: never fitted, or the interval has passed."""
        return self.fitted_at_s is None or now_s - self.fitted_at_s >= self.retrain_interval_s

    def fit(self, history: Series) -> None:
        """Train on ``history`` (all of it is the past), check on the holdout, keep or fall back."""
        began = time.perf_counter()
        try:
            self._fit(history)
        finally:
            self.fitted_at_s = history.end_s
            self.fit_duration_s = time.perf_counter() - began
            self.name = (
                "learned" if self._model is not None else (f"learned_fallback_{self.fallback.name}")
            )

    def _fit(self, history: Series) -> None:
        self._model = None
        self.holdout_mae_w = self.fallback_holdout_mae_w = None
        first_s = max(history.start_s, history.end_s - self.max_train_days * DAY_S)
        times_s = history.times_s()
        rows = (times_s >= first_s) & np.isfinite(history.values)
        if rows.sum() * history.step_s < self.min_days * DAY_S:
            self.reason = "too_little_data"
            return
        x = self._features(history, times_s[rows], None)
        y = history.values[rows]
        holdout_start_s = _midnight_before(history.end_s - self.holdout_days * DAY_S)
        train = times_s[rows] < holdout_start_s
        if train.sum() * history.step_s < (self.min_days - self.holdout_days) * DAY_S:
            self.reason = "too_little_data"  # gaps left too little before the holdout
            return
        model = self._train(x[train], y[train])
        predicted = self._clean(model.predict(x[~train]), x[~train])
        self.holdout_mae_w = float(np.mean(np.abs(predicted - y[~train])))
        self.fallback_holdout_mae_w = self._fallback_mae(history, holdout_start_s)
        if not self.holdout_mae_w < self.fallback_holdout_mae_w:
            self.reason = "worse_than_fallback"
            return
        self._model = self._train(x, y)
        self.reason = None

    def forecast(self, history: Series, start_s: float, steps: int) -> Series:
        if self.auto_fit and self.due(start_s):
            self.fit(history_before(history, start_s))
        if self._model is None:
            return self.fallback.forecast(history, start_s, steps)
        times_s = start_s + history.step_s * np.arange(steps, dtype=np.float64)
        x = self._features(history, times_s, start_s)
        return Series(start_s, history.step_s, self._clean(self._model.predict(x), x))

    def _features(self, history: Series, times_s: FloatArray, before_s: float | None) -> FloatArray:
        columns = [
            calendar_features(times_s, self.timezone),
            lag_features(history, times_s, before_s),
        ]
        if self._sky is not None:
            columns.append(self._clear_sky(times_s, history.step_s)[:, None])
        return np.column_stack(columns)

    def _clear_sky(self, times_s: FloatArray, step_s: float) -> FloatArray:
        assert self._sky is not None
        if self._sky.step_s != step_s:
            self._sky = ClearSky(self._sky.site, self._sky.array, step_s)
        if not len(times_s):
            return np.zeros(0)
        grid = self._sky.poa_w_m2(float(times_s[0]), round((times_s[-1] - times_s[0]) / step_s) + 1)
        return np.asarray(grid[np.round((times_s - times_s[0]) / step_s).astype(np.int64)])

    def _clean(self, predicted: Any, x: FloatArray) -> FloatArray:
        values = np.clip(np.nan_to_num(np.asarray(predicted, dtype=np.float64)), 0.0, None)
        if self.quantity == "pv" and self._sky is not None:
            values[x[:, -1] <= 0.0] = 0.0  # no sun, no power, whatever the trees say
        return values

    def _train(self, x: FloatArray, y: FloatArray) -> lightgbm.Booster:
        import lightgbm

        data = lightgbm.Dataset(x, label=y, params={"verbosity": -1})
        return lightgbm.train(self._params, data, num_boost_round=self._rounds)

    def _fallback_mae(self, history: Series, holdout_start_s: float) -> float:
        errors: list[FloatArray] = []
        steps = round(DAY_S / history.step_s)
        day_s = holdout_start_s
        while day_s < history.end_s:
            predicted = self.fallback.forecast(history, day_s, steps).values
            k = round((day_s - history.start_s) / history.step_s)
            actual = history.values[k : k + steps]
            errors.append(np.abs(predicted[: len(actual)] - actual))
            day_s += DAY_S
        error = np.concatenate(errors)
        return float(np.nanmean(error)) if (~np.isnan(error)).any() else float("inf")


def _midnight_before(t_s: float) -> float:
    """UTC midnight at or before ``t_s``: holdout days start where forecasts do."""
    return float(np.floor(t_s / DAY_S) * DAY_S)
