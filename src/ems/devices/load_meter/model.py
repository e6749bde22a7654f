"""Load meter simulator: a site's consumption following its local daily routine.

Signs (DESIGN.md §3): ``ActivePower`` >= 0 is power consumed, in W; energy in Wh;
time in UTC epoch seconds, shaped by the site's local wall-clock time.

Scaling: weekdays and weekend days each have their own shape; one scale factor
makes the mean over a whole week (5 weekdays + 2 weekend days) equal to
``annual_energy_kwh / 8760 h``. A calendar year is 52 weeks and one day, so its
mean matches to within that extra day's deviation (~0.01 %). A seasonal factor
(more in winter) averages to 1 over a year; the noise averages to 1.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import ClassVar
from zoneinfo import ZoneInfo

from ems.dal import Sample, Value
from ems.devices.base import (
    BalanceRole,
    Simulator,
    SimulatorConfig,
    SiteContext,
    balance_role_of,
    register_simulator,
)
from ems.devices.load_meter.config import LoadMeterConfig
from ems.devices.load_meter.local_day import local_day
from ems.devices.load_meter.shapes import SHAPES, shape_at, weekly_mean

__all__ = ["LoadMeterSimulator"]

_NOISE_MEMORY_MIN = 10.0  # the noise decorrelates over ~10 minutes
_WINTER_PEAK_DOY = 15.0  # demand peaks mid-January (northern hemisphere)
_YEAR_DAYS = 365.25


@register_simulator
class LoadMeterSimulator(Simulator):
    """Consumption from a residential or commercial profile with seeded noise."""

    type_name: ClassVar[str] = "load_meter"
    config_model: ClassVar[type[SimulatorConfig]] = LoadMeterConfig
    balance_role: ClassVar[BalanceRole] = balance_role_of("load_meter")

    def __init__(self, device_id: str, config: LoadMeterConfig, site: SiteContext) -> None:
        super().__init__(device_id, config, site)
        self.config = config
        self._tz = ZoneInfo(site.timezone)
        mean_w = config.annual_energy_kwh * 1000.0 / 8760.0
        self._scale_w = mean_w / weekly_mean(config.profile)
        self._day_start_s = math.inf
        self._day_end_s = -math.inf
        self._minutes: list[float] = []
        self._power_w = 0.0  # chosen at the last step, flows until the next one
        self._energy_wh = 0.0

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        if dt_s > 0:
            self._energy_wh += self._power_w * dt_s / 3600.0
        self._power_w = self.power_w(now_s)
        return {"ActivePower": self._power_w, "ActiveEnergy": self._energy_wh}

    def power_w(self, now_s: float) -> float:
        """Consumption (W, >= 0) at ``now_s``: a deterministic function of seed and time."""
        if not self._day_start_s <= now_s < self._day_end_s:
            self._load_day(now_s)
        pos = (now_s - self._day_start_s) / 60.0
        i = min(max(int(pos), 0), len(self._minutes) - 2)
        a = self._minutes[i]
        b = self._minutes[i + 1]
        return max(a + (b - a) * (pos - i), 0.0)

    def _load_day(self, now_s: float) -> None:
        """Precompute the day's consumption at every minute of local time."""
        cfg = self.config
        day = local_day(now_s, self._tz)
        n = round((day.end_s - day.start_s) / 60.0)  # 1380 / 1440 / 1500 minutes
        weekday_shape, weekend_shape = SHAPES[cfg.profile]
        shape = weekend_shape if day.date.weekday() >= 5 else weekday_shape
        base_w = self._scale_w * self._season(day.date.timetuple().tm_yday)
        rng = random.Random(f"ems.load_meter/{cfg.seed}/{day.date.isoformat()}")
        phi = math.exp(-1.0 / _NOISE_MEMORY_MIN)
        innovation = cfg.noise_fraction * math.sqrt(1.0 - phi * phi)
        dev = rng.gauss(0.0, cfg.noise_fraction)
        minutes: list[float] = []
        for k in range(n + 1):
            t = day.start_s + 60.0 * k
            hour = day.wall_s(t) / 3600.0
            minutes.append(base_w * shape_at(shape, hour) * max(1.0 + dev, 0.0))
            dev = phi * dev + rng.gauss(0.0, innovation)
        self._day_start_s, self._day_end_s, self._minutes = day.start_s, day.end_s, minutes

    def _season(self, day_of_year: int) -> float:
        """Seasonal factor, averaging 1 over a year; winter is mid-year south of the equator."""
        peak = _WINTER_PEAK_DOY + (_YEAR_DAYS / 2.0 if self.site.latitude_deg < 0 else 0.0)
        phase = 2.0 * math.pi * (day_of_year - peak) / _YEAR_DAYS
        return 1.0 + self.config.seasonal_amplitude * math.cos(phase)
