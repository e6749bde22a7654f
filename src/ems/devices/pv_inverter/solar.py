"""One solar day of available AC power at 1-minute resolution, computed at once.

pvlib is far too slow to call per simulator step (86,400 steps a simulated day),
so a whole day is computed vectorised and the simulator interpolates between
minutes. Days are *mean solar* days of the site (midnight = longitude-corrected
UTC midnight): their boundary always falls at night, so starting a new day's
cloud process never shows as a jump in output, and there is no DST to handle.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import random
import subprocess
import sys

from ems.devices.base import SiteContext
from ems.devices.pv_inverter.config import PvInverterConfig

__all__ = [
    "MINUTES_PER_DAY",
    "clear_sky_index",
    "day_available_power_w",
    "day_available_power_w_in_child",
    "solar_day",
    "solar_day_start_s",
]

log = logging.getLogger(__name__)

MINUTES_PER_DAY = 1440
#: The longest a child process may take for one day's profile [s] (pvlib's import dominates).
CHILD_TIMEOUT_S = 120.0
_DAY_S = 86_400.0

# Cloud model constants: a cloudy spell lasts 5-30 min on average (longer when
# cloudier), and a cloud passes a transmission of ~0.3-0.6 of clear sky.
_MIN_SPELL_MIN = 5.0
_EXTRA_SPELL_MIN = 25.0
_CLOUD_MEMORY_MIN = 10.0
_CLOUD_SD = 0.12


def solar_day(now_s: float, longitude_deg: float) -> tuple[int, float]:
    """The mean-solar day number containing ``now_s`` and its start (UTC epoch s)."""
    day = math.floor((now_s + longitude_deg * 240.0) / _DAY_S)  # 360° of longitude = 86,400 s
    return day, solar_day_start_s(day, longitude_deg)


def solar_day_start_s(day: int, longitude_deg: float) -> float:
    """UTC epoch seconds of mean solar midnight that starts ``day``."""
    return day * _DAY_S - longitude_deg * 240.0


def clear_sky_index(seed: int, cloudiness: float, day: int, n: int) -> list[float]:
    """Per-minute ratio of actual to clear-sky irradiance: 1.0 clear, lower under a cloud.

    A two-state Markov chain (clear / cloudy) whose stationary cloudy share is
    ``cloudiness``; under a cloud the transmission follows an AR(1) process. A
    deterministic function of ``(seed, day)``, so output does not depend on how
    often the simulator is stepped.
    """
    if cloudiness <= 0.0:
        return [1.0] * n
    rng = random.Random(f"ems.pv_inverter/{seed}/{day}")  # str seeds hash stably (sha512)
    p_leave = 1.0 / (_MIN_SPELL_MIN + _EXTRA_SPELL_MIN * cloudiness)
    p_enter = 1.0 if cloudiness >= 1.0 else min(1.0, p_leave * cloudiness / (1.0 - cloudiness))
    if cloudiness >= 1.0:
        p_leave = 0.0
    mean = 0.6 - 0.3 * cloudiness  # cloudier days have thicker clouds
    phi = math.exp(-1.0 / _CLOUD_MEMORY_MIN)
    innovation = _CLOUD_SD * math.sqrt(1.0 - phi * phi)
    cloudy = rng.random() < cloudiness
    dev = rng.gauss(0.0, _CLOUD_SD)
    out: list[float] = []
    for _ in range(n):
        dev = phi * dev + rng.gauss(0.0, innovation)
        out.append(min(0.9, max(0.1, mean + dev)) if cloudy else 1.0)
        cloudy = rng.random() >= p_leave if cloudy else rng.random() < p_enter
    return out


def day_available_power_w(config: PvInverterConfig, site: SiteContext, day: int) -> list[float]:
    """AC power (W, >= 0, clipped) the system could deliver at each minute of ``day``.

    Returns ``MINUTES_PER_DAY + 1`` values, the last one at the next day's start,
    so any instant of the day lies between two of them. Exactly 0.0 while the sun
    is below the horizon.
    """
    # Imported here: pvlib takes ~0.5 s to import and the device registry imports
    # every simulator package, even for sites without PV.
    import numpy as np
    import pandas as pd
    import pvlib

    start_s = solar_day_start_s(day, site.longitude_deg)
    n = MINUTES_PER_DAY + 1
    times = pd.date_range(pd.to_datetime(start_s, unit="s", utc=True), periods=n, freq="1min")
    location = pvlib.location.Location(
        site.latitude_deg, site.longitude_deg, tz=site.timezone, altitude=site.altitude_m
    )
    sun = location.get_solarposition(times)
    # Turbidity and extra-terrestrial radiation are looked up without pvlib's
    # day-of-year-from-index paths, which warn under pandas 3; both change
    # negligibly within a day.
    turbidity = pvlib.clearsky.lookup_linke_turbidity(
        times, site.latitude_deg, site.longitude_deg, interp_turbidity=False
    )
    noon = dt.datetime.fromtimestamp(start_s + _DAY_S / 2.0, dt.UTC)
    dni_extra = float(pvlib.irradiance.get_extra_radiation(noon.timetuple().tm_yday))
    clear = location.get_clearsky(
        times,
        model="ineichen",
        solar_position=sun,
        dni_extra=dni_extra,
        linke_turbidity=turbidity,
    )
    poa = pvlib.irradiance.get_total_irradiance(
        config.tilt_deg,
        config.azimuth_deg,
        sun["apparent_zenith"],
        sun["azimuth"],
        clear["dni"],
        clear["ghi"],
        clear["dhi"],
        albedo=config.albedo,
    )
    kt = np.asarray(clear_sky_index(config.seed, config.cloudiness, day, n))
    poa_w_m2 = np.clip(np.nan_to_num(poa["poa_global"].to_numpy(dtype=float)), 0.0, None) * kt
    # NOCT model: the cell runs (NOCT - 20) K above ambient at 800 W/m².
    cell_c = config.ambient_temp_c + (config.noct_c - 20.0) * poa_w_m2 / 800.0
    temp_factor = 1.0 + config.temp_coefficient_per_k * (cell_c - 25.0)
    dc_w = config.peak_power_w * poa_w_m2 / 1000.0 * temp_factor * (1.0 - config.system_losses)
    ac_w = np.clip(dc_w * config.inverter_efficiency, 0.0, config.inverter_max_power_w)
    ac_w[sun["apparent_elevation"].to_numpy(dtype=float) <= 0.0] = 0.0
    return [float(v) for v in ac_w]


def day_available_power_w_in_child(
    config: PvInverterConfig, site: SiteContext, day: int
) -> list[float]:
    """:func:`day_available_power_w`, computed in a short-lived child process.

    The child imports pvlib, pandas and numpy, computes the day and exits, so
    this process never holds them (about 120 MB of a small edge's memory). It
    costs a child start (a second or two of CPU) once per solar day. If the
    child fails, the day is computed here after all (logged).
    """
    request = json.dumps(
        {"config": config.model_dump(mode="json"), "site": dataclasses.asdict(site), "day": day}
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ems.devices.pv_inverter.solar_child"],
            input=request,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=True,
        )
        minutes = json.loads(done.stdout)
        if not isinstance(minutes, list) or len(minutes) != MINUTES_PER_DAY + 1:
            raise ValueError(f"expected {MINUTES_PER_DAY + 1} values")
        return [float(v) for v in minutes]
    except (OSError, subprocess.SubprocessError, ValueError, TypeError) as exc:
        stderr = getattr(exc, "stderr", None) or ""
        log.warning(
            "PV day profile in a child process failed (%s %s); computing it in this process",
            exc,
            stderr[-500:],
        )
        return day_available_power_w(config, site, day)
