"""Clear-sky irradiance on the site's array, as 15-min means, with pvlib.

pvlib (with pandas) is imported on first use: the edge's memory budget has no
room for it on sites that never forecast PV. Results are kept per UTC day, so
a forecaster asked every 15 min, or a benchmark asked every day of a year,
computes each day once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ems.forecast.base import FloatArray
from ems.forecast.lookup import DAY_S

__all__ = ["ArrayGeometry", "ClearSky", "SiteLocation"]

# Sub-samples per step: the sun moves ~4° in 15 min, and a step's midpoint alone
# misses sunrise and sunset steps.
_SUBSAMPLES = 3
_MAX_CACHED_DAYS = 800


@dataclass(frozen=True, slots=True)
class SiteLocation:
    """Where the site is (the edge config's ``site:`` block)."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float = 0.0


@dataclass(frozen=True, slots=True)
class ArrayGeometry:
    """The plane of the array; tilt 0 is horizontal (then POA is GHI)."""

    tilt_deg: float = 0.0
    azimuth_deg: float = 180.0  # south


class ClearSky:
    """Clear-sky plane-of-array irradiance [W/m²], mean over each step; 0 at night."""

    def __init__(self, site: SiteLocation, array: ArrayGeometry, step_s: float) -> None:
        if round(DAY_S / step_s) * step_s != DAY_S:
            raise ValueError("step_s must divide a day")
        self.site = site
        self.array = array
        self.step_s = step_s
        self._steps_per_day = round(DAY_S / step_s)
        self._days: dict[int, FloatArray] = {}

    def poa_w_m2(self, start_s: float, steps: int) -> FloatArray:
        """Steps of ``self.step_s`` from ``start_s`` (any alignment to the step)."""
        times_s = start_s + self.step_s * np.arange(steps, dtype=np.float64)
        if steps == 0:
            return times_s
        first_day = math.floor(times_s[0] / DAY_S)
        last_day = math.floor(times_s[-1] / DAY_S)
        self._compute([d for d in range(first_day, last_day + 1) if d not in self._days])
        day = np.floor(times_s / DAY_S).astype(np.int64)
        slot = np.floor((times_s - day * DAY_S) / self.step_s + 1e-9).astype(np.int64)
        slot = np.minimum(slot, self._steps_per_day - 1)
        table = np.stack([self._days[int(d)] for d in range(first_day, last_day + 1)])
        return np.asarray(table[day - first_day, slot], dtype=np.float64)

    def _compute(self, days: list[int]) -> None:
        if not days:
            return
        if len(self._days) + len(days) > _MAX_CACHED_DAYS:
            self._days.clear()
        n = self._steps_per_day
        starts_s = (np.repeat(np.asarray(days, dtype=np.float64), n) * DAY_S) + np.tile(
            np.arange(n) * self.step_s, len(days)
        )
        offsets_s = (np.arange(_SUBSAMPLES) + 0.5) / _SUBSAMPLES * self.step_s
        sub_s = (starts_s[:, None] + offsets_s[None, :]).ravel()
        poa = _poa_at(self.site, self.array, sub_s).reshape(-1, _SUBSAMPLES).mean(axis=1)
        for i, d in enumerate(days):
            self._days[d] = poa[i * n : (i + 1) * n]


def _poa_at(site: SiteLocation, array: ArrayGeometry, times_s: FloatArray) -> FloatArray:
    import pandas as pd
    import pvlib

    times = pd.DatetimeIndex(pd.to_datetime(times_s, unit="s", utc=True))
    location = pvlib.location.Location(
        site.latitude_deg, site.longitude_deg, tz="UTC", altitude=site.altitude_m
    )
    sun = location.get_solarposition(times)
    turbidity = pvlib.clearsky.lookup_linke_turbidity(
        times, site.latitude_deg, site.longitude_deg, interp_turbidity=False
    )
    # By day of year as numbers: pvlib's paths from a time index warn under pandas 3.
    dni_extra = np.asarray(pvlib.irradiance.get_extra_radiation(times.day_of_year.to_numpy()))
    clear = location.get_clearsky(
        times,
        model="ineichen",
        solar_position=sun,
        dni_extra=dni_extra,
        linke_turbidity=turbidity,
    )
    poa = pvlib.irradiance.get_total_irradiance(
        array.tilt_deg,
        array.azimuth_deg,
        sun["apparent_zenith"],
        sun["azimuth"],
        clear["dni"],
        clear["ghi"],
        clear["dhi"],
    )
    out = np.clip(np.nan_to_num(np.asarray(poa["poa_global"], dtype=np.float64)), 0.0, None)
    out[np.asarray(sun["apparent_elevation"], dtype=np.float64) <= 0.0] = 0.0
    return np.asarray(out, dtype=np.float64)
