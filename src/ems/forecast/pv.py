"""PV from the clear sky: the array's clear-sky power times a forecast clear-sky index.

No weather forecast is downloaded (an edge may have no internet), so what the
sky will do is forecast from the site's own history:

* the array's **scale** [W per W/m² of clear-sky plane-of-array irradiance] is
  a high quantile of measured power over clear-sky irradiance at times of
  strong sun in the recent history: the clearest moments show the array's
  clear-sky output, cloudy ones fall below it;
* the **clear-sky index** (measured over clear-sky power) of the last daylight
  steps before the start (with the sun up, only those since it rose: a grey
  morning's first hour, not yesterday's sunny afternoon, says what the
  morning's sky is) decays with lead time toward the index of the whole
  window (its climatology): weather persists for a while, not for ever. The
  default e-folding time of 24 h was the best of 0, 6, 12, 24 and 48 h on the
  forecast benchmark's TMY3 year (one site; see the README), so the
  benchmark's PV figure is in-sample for that one parameter.
* optionally, a **weather service's** clear-sky index per step
  (``index_forecast``, e.g. a provider's day-ahead cloud or irradiance forecast
  over the clear sky): where it covers a step, the measured index decays toward
  it instead of toward the climatology, so the last hours measured still count
  for the next hours and the provider's forecast for the rest of the day.

The forecast is 0 wherever the sun is down and never below 0.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ems.forecast.base import FloatArray, Series
from ems.forecast.clearsky import ArrayGeometry, ClearSky, SiteLocation
from ems.forecast.lookup import DAY_S
from ems.forecast.persistence import PersistenceForecaster

__all__ = ["PvClearSkyForecaster"]

# Steps with less clear-sky irradiance than this say little about the array's
# scale (low sun: shading, reflection losses, diffuse light dominate).
_STRONG_SUN_W_M2 = 300.0
_DAYLIGHT_W_M2 = 50.0
_MIN_SCALE_POINTS = 8
_MAX_INDEX = 1.2  # cloud enhancement rarely lifts a 15-min mean further


class PvClearSkyForecaster:
    """PV power [W, ≥ 0] of one array at ``site``.

    ``peak_power_w`` (optional) is used for the scale when the history holds too
    few sunny steps to estimate it (a new site); without it such a forecaster
    falls back to persistence, and says so in ``reason``. ``index_forecast``
    (optional, settable): a weather service's clear-sky index per step [0..1.2],
    NaN where it has none.
    """

    def __init__(
        self,
        site: SiteLocation,
        array: ArrayGeometry | None = None,
        *,
        window_days: float = 30.0,
        scale_quantile: float = 0.9,
        recent_daylight_steps: int = 8,
        index_decay_h: float = 24.0,
        peak_power_w: float | None = None,
        index_forecast: Series | None = None,
    ) -> None:
        self.site = site
        self.array = array or ArrayGeometry()
        self.window_days = window_days
        self.scale_quantile = scale_quantile
        self.recent_daylight_steps = recent_daylight_steps
        self.index_decay_h = index_decay_h
        self.peak_power_w = peak_power_w
        self.index_forecast = index_forecast
        self.name = "pv_clearsky"
        #: ``None`` when the clear-sky model was used, else why not (lower_snake).
        self.reason: str | None = None
        self._skies: dict[float, ClearSky] = {}
        self._fallback = PersistenceForecaster("yesterday")

    def clear_sky_poa_w_m2(self, start_s: float, steps: int, step_s: float) -> FloatArray:
        sky = self._skies.get(step_s)
        if sky is None:
            sky = self._skies[step_s] = ClearSky(self.site, self.array, step_s)
        return sky.poa_w_m2(start_s, steps)

    def forecast(self, history: Series, start_s: float, steps: int) -> Series:
        step_s = history.step_s
        window_steps = round(self.window_days * DAY_S / step_s)
        first_s = max(history.start_s, start_s - window_steps * step_s)
        # Whole steps of the history inside [first_s, start_s).
        k0 = math.ceil((first_s - history.start_s) / step_s - 1e-9)
        k1 = min(len(history.values), math.floor((start_s - history.start_s) / step_s + 1e-9))
        measured_w = history.values[k0:k1] if k1 > k0 else np.zeros(0)
        past_cs = self.clear_sky_poa_w_m2(history.start_s + k0 * step_s, len(measured_w), step_s)
        scale = self._scale(measured_w, past_cs)
        if scale is None:
            self.reason = "no_sunny_history"
            out = self._fallback.forecast(history, start_s, steps)
            return Series(start_s, step_s, np.clip(out.values, 0.0, None))
        self.reason = None
        future_cs = self.clear_sky_poa_w_m2(start_s, steps, step_s)
        index = self._index(measured_w, past_cs, scale, step_s, steps, start_s)
        power_w = index * scale * future_cs
        seen = measured_w[~np.isnan(measured_w)]
        if seen.size and seen.max() > 0:
            power_w = np.minimum(power_w, seen.max() * 1.05)  # the inverter's clipping
        return Series(start_s, step_s, np.clip(np.nan_to_num(power_w), 0.0, None))

    def _scale(self, measured_w: FloatArray, clear_w_m2: FloatArray) -> float | None:
        strong = (clear_w_m2 >= _STRONG_SUN_W_M2) & ~np.isnan(measured_w)
        if int(strong.sum()) >= _MIN_SCALE_POINTS:
            ratio = measured_w[strong] / clear_w_m2[strong]
            scale = float(np.quantile(ratio, self.scale_quantile))
            if scale > 0:
                return scale
        if self.peak_power_w is not None:
            # PVWatts-like: rated power at 1,000 W/m², less typical system losses.
            return self.peak_power_w / 1000.0 * 0.85
        return None

    def _index(
        self,
        measured_w: FloatArray,
        clear_w_m2: FloatArray,
        scale: float,
        step_s: float,
        steps: int,
        start_s: float,
    ) -> FloatArray:
        sun = clear_w_m2 >= _DAYLIGHT_W_M2
        day = sun & ~np.isnan(measured_w)  # daylight steps measured
        clear_w = clear_w_m2 * scale
        lead_h = (np.arange(steps) + 0.5) * step_s / 3600.0
        served = self._served_index(start_s, step_s, steps)
        if not day.any():
            return np.where(np.isnan(served), 1.0, served)
        # What the index tends to: the weather service's where it has a value, else
        # the window's own mean (climatology).
        k_clim = np.where(np.isnan(served), _ratio(measured_w[day], clear_w[day]), served)
        recent = _since_sunrise(day, sun)
        if not len(recent):
            recent = np.flatnonzero(day)
        recent = recent[-self.recent_daylight_steps :]
        k_recent = _ratio(measured_w[recent], clear_w[recent])
        # Lead time counts from the last daylight step seen, not from the start:
        # a forecast made at midnight learns nothing about tomorrow from the night.
        since_h = (len(measured_w) - 1 - int(recent[-1])) * step_s / 3600.0
        weight = np.exp(-(lead_h + since_h) / self.index_decay_h) if self.index_decay_h > 0 else 0.0
        return np.asarray(k_clim + (k_recent - k_clim) * weight, dtype=np.float64)

    def _served_index(self, start_s: float, step_s: float, steps: int) -> FloatArray:
        """``index_forecast`` at each step's middle, within [0, 1.2]; NaN where it has none."""
        out = np.full(steps, np.nan)
        served = self.index_forecast
        if served is None or steps == 0:
            return out
        middle_s = start_s + step_s * (np.arange(steps) + 0.5)
        idx = np.floor((middle_s - served.start_s) / served.step_s).astype(np.int64)
        ok = (idx >= 0) & (idx < len(served.values))
        out[ok] = served.values[idx[ok]]
        return np.asarray(np.clip(out, 0.0, _MAX_INDEX), dtype=np.float64)


def _since_sunrise(day: npt.NDArray[np.bool_], sun: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """The measured daylight steps (``day``) since the sun last rose, if it is up at the
    last step; none otherwise. Yesterday's afternoon says less about this morning's sky
    than this morning's first steps do, though its stronger sun would outweigh them."""
    if not len(sun) or not sun[-1]:
        return np.zeros(0, dtype=np.int64)
    dark = np.flatnonzero(~sun)
    sunrise = int(dark[-1]) + 1 if len(dark) else 0
    return sunrise + np.flatnonzero(day[sunrise:])


def _ratio(measured_w: FloatArray, clear_w: FloatArray) -> float:
    total = float(clear_w.sum())
    return min(_MAX_INDEX, max(0.0, float(measured_w.sum()) / total)) if total > 0 else 1.0
