"""A stand-in for a weather service's day-ahead forecast: the clear-sky index per step.

No weather forecast ships in an installed package and nothing is downloaded, so
the benchmark makes one from the data set's own PV with a day-ahead error of
documented size, which a real site would get from a provider (its irradiance
forecast over the clear sky):

* the true index of each quarter hour is the PV over the array's clear-sky
  output (clear-sky plane-of-array irradiance from :mod:`ems.forecast.clearsky`
  times the array's scale, the 90th percentile of PV over clear-sky irradiance in
  strong sun over the year, as ``pv_clearsky`` estimates it);
* a provider resolves hours, not quarter hours: the served index is the hour's
  mean index plus an error, one normal draw per day (the weather system misplaced)
  and one per hour (the clouds' timing), each with ``INDEX_ERROR_SD``, clipped to
  [0, 1.2]; the draws are seeded by the day of the year, so every run and every
  span serves the same forecast for a day, and no draw depends on the day's
  outcome beyond the true index itself.

``INDEX_ERROR_SD`` is chosen so that the served forecast's day-ahead skill on
hourly PV (1 − RMSE / RMSE of yesterday's PV, daylight hours, the whole year) is
about 0.5, what Perez et al. (2013) report for the best NWP-based day-ahead
irradiance forecasts against persistence ("Comparison of numerical weather
prediction solar irradiance forecasts in the US, Canada and Europe", Solar
Energy 94, 305–326); :func:`skill_against_persistence` measures it and
``python bench/_control_weather.py`` prints it for the year (0.50 with 0.125). It
was set on that figure, not on the controller's result.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from _control_data import STEP_S, DataSet, year_start_s  # bench/
from ems.forecast.clearsky import ArrayGeometry, ClearSky, SiteLocation

__all__ = ["INDEX_ERROR_SD", "WEATHER_CSV", "served_index", "skill_against_persistence"]

FloatArray = npt.NDArray[np.float64]

WEATHER_CSV = "weather.csv"
INDEX_ERROR_SD = 0.125
_SEED = 20_250_101
_SITE = SiteLocation(36.1, -79.95, 273.0)  # the site YAML's, Greensboro NC (TMY3)
_ARRAY = ArrayGeometry(25.0, 180.0)  # as _control_data builds the PV
_STRONG_SUN_W_M2 = 300.0
_DAYLIGHT_W_M2 = 50.0
_MAX_INDEX = 1.2
_PER_HOUR = round(3600.0 / STEP_S)
_PER_DAY = 24 * _PER_HOUR


def _clear_poa_w_m2(start_s: float, steps: int) -> FloatArray:
    return ClearSky(_SITE, _ARRAY, STEP_S).poa_w_m2(start_s, steps)


def _true_index(pv_w: FloatArray, clear_w_m2: FloatArray) -> FloatArray:
    strong = clear_w_m2 >= _STRONG_SUN_W_M2
    scale = float(np.quantile(pv_w[strong] / clear_w_m2[strong], 0.9))
    with np.errstate(divide="ignore", invalid="ignore"):
        index = np.where(clear_w_m2 >= _DAYLIGHT_W_M2, pv_w / (scale * clear_w_m2), np.nan)
    return np.asarray(index, dtype=np.float64)


def served_index(data: DataSet, error_sd: float = INDEX_ERROR_SD) -> FloatArray:
    """The served clear-sky index per step of ``data`` (0 at night)."""
    if round(data.start_s - year_start_s()) % round(STEP_S * _PER_DAY):
        raise ValueError("a data set starts at a local midnight")
    clear = _clear_poa_w_m2(data.start_s, data.steps)
    index = _true_index(data.pv_w, clear)
    hours = data.steps // _PER_HOUR
    with warnings.catch_warnings():  # night hours have no index: NaN, made 0 below
        warnings.simplefilter("ignore", RuntimeWarning)
        hourly = np.nanmean(index[: hours * _PER_HOUR].reshape(hours, _PER_HOUR), axis=1)
    first_day = round((data.start_s - year_start_s()) / (STEP_S * _PER_DAY))
    error = np.empty(hours)
    for d in range(hours // 24):
        rng = np.random.default_rng((_SEED, first_day + d))
        error[24 * d : 24 * d + 24] = rng.normal(0.0, error_sd) + rng.normal(0.0, error_sd, 24)
    served = np.clip(np.nan_to_num(hourly + error, nan=0.0), 0.0, _MAX_INDEX)
    out = np.repeat(served, _PER_HOUR)
    return np.asarray(np.where(clear >= _DAYLIGHT_W_M2, out, 0.0), dtype=np.float64)


def write_weather(path: Path, data: DataSet) -> None:
    """``data``'s served index as ``timestamp,clear_sky_index``, one row per step."""
    times = data.times_s()
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(times, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "clear_sky_index": served_index(data).round(4),
        }
    )
    frame.to_csv(path, index=False)


def skill_against_persistence(data: DataSet, error_sd: float = INDEX_ERROR_SD) -> float:
    """1 − RMSE(served PV) / RMSE(yesterday's PV) on hourly daylight PV from day 2 of
    ``data`` on; served PV = served index × the array's clear-sky output."""
    clear = _clear_poa_w_m2(data.start_s, data.steps)
    strong = clear >= _STRONG_SUN_W_M2
    scale = float(np.quantile(data.pv_w[strong] / clear[strong], 0.9))
    forecast = served_index(data, error_sd) * scale * clear
    hours = data.steps // _PER_HOUR

    def hourly(values: FloatArray) -> FloatArray:
        return np.asarray(values[: hours * _PER_HOUR].reshape(hours, _PER_HOUR).mean(axis=1))

    actual, served, sky = hourly(data.pv_w), hourly(forecast), hourly(clear)
    yesterday = np.roll(actual, 24)
    day = (sky >= _DAYLIGHT_W_M2) & (np.arange(hours) >= 24)
    rmse = float(np.sqrt(np.mean((served[day] - actual[day]) ** 2)))
    rmse_persistence = float(np.sqrt(np.mean((yesterday[day] - actual[day]) ** 2)))
    return 1.0 - rmse / rmse_persistence


if __name__ == "__main__":
    from _control_data import load_dataset

    year = load_dataset("business_g0", 0, 365)
    print(f"index error sd {INDEX_ERROR_SD}: skill {skill_against_persistence(year):.3f}")
