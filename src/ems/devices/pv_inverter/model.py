"""PV inverter simulator: clear-sky physics with seeded clouds, honouring a curtailment limit.

Signs (DESIGN.md §3): ``ActivePower`` >= 0 is power produced, in W. Energy in Wh,
time in UTC epoch seconds. ``ActiveEnergy`` integrates the power of the interval
that just ended (the power chosen at the previous step), like the battery.

Reactive power (``SetReactivePower``, var, > 0 injecting) shares the inverter's
rated apparent power with the active power (:mod:`ems.devices.apparent_power`);
with reactive priority it curtails production. Only active power raises the
terminal voltage here (the feeder's X/R is not modelled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from ems.dal import Sample, Value
from ems.devices.apparent_power import ApparentPower
from ems.devices.base import (
    BalanceRole,
    Simulator,
    SimulatorConfig,
    SiteContext,
    balance_role_of,
    register_simulator,
    setpoint_timeout_s,
)
from ems.devices.battery.model import setpoint_w
from ems.devices.pv_inverter.config import PvInverterConfig
from ems.devices.pv_inverter.solar import (
    MINUTES_PER_DAY,
    day_available_power_w,
    day_available_power_w_in_child,
    solar_day,
)

__all__ = ["PvInverterSimulator", "limit_w"]

_CACHED_DAYS = 2  # today, plus yesterday for a step that lands just before midnight


@register_simulator
class PvInverterSimulator(Simulator):
    """A PV array with inverter. Curtailed by ``SetActivePowerLimit`` (None = no limit)."""

    type_name: ClassVar[str] = "pv_inverter"
    config_model: ClassVar[type[SimulatorConfig]] = PvInverterConfig
    balance_role: ClassVar[BalanceRole] = balance_role_of("pv_inverter")

    def __init__(self, device_id: str, config: PvInverterConfig, site: SiteContext) -> None:
        super().__init__(device_id, config, site)
        self.config = config
        self._days: dict[int, list[float]] = {}
        self._day_start_s = math.inf
        self._minutes: list[float] = []
        self._power_w = 0.0  # chosen at the last step, flows until the next one
        self._energy_wh = 0.0
        self._rating: ApparentPower = config.apparent_power(config.inverter_max_power_w)

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        if dt_s > 0:
            self._energy_wh += self._power_w * dt_s / 3600.0
        available = self.available_w(now_s)
        timeout_s = setpoint_timeout_s(self.config.setpoint_timeout_s, dt_s)
        limit = limit_w(setpoints, now_s, timeout_s)
        power_w = available if limit is None else min(available, limit)
        wanted_var = setpoint_w(setpoints, "SetReactivePower", now_s, timeout_s)
        self._power_w, reactive_var = self._rating.share(power_w, wanted_var)
        voltage = self.config.nominal_voltage_v + self.config.voltage_rise_v_per_kw * (
            self._power_w / 1000.0
        )
        return {
            "ActivePower": self._power_w,
            "ActiveEnergy": self._energy_wh,
            "Voltage": voltage,
            "Current": math.hypot(self._power_w, reactive_var) / voltage,
            "AvailablePower": available,
            "ReactivePower": reactive_var,
            "MaxReactivePower": self._rating.available_var(self._power_w),
            "RatedApparentPower": self._rating.rated_va,
        }

    def available_w(self, now_s: float) -> float:
        """AC power (W) the array could deliver at ``now_s`` without curtailment."""
        pos = (now_s - self._day_start_s) / 60.0
        if not 0.0 <= pos <= MINUTES_PER_DAY:
            self._load_day(now_s)
            pos = min(max((now_s - self._day_start_s) / 60.0, 0.0), float(MINUTES_PER_DAY))
        i = min(int(pos), MINUTES_PER_DAY - 1)
        a = self._minutes[i]
        b = self._minutes[i + 1]
        # Written so two zero neighbours give exactly 0.0 (night stays exactly zero).
        return a + (b - a) * (pos - i)

    def _load_day(self, now_s: float) -> None:
        day, start_s = solar_day(now_s, self.site.longitude_deg)
        minutes = self._days.get(day)
        if minutes is None:
            if self.site.isolate_models:
                minutes = day_available_power_w_in_child(self.config, self.site, day)
            else:
                minutes = day_available_power_w(self.config, self.site, day)
            self._days[day] = minutes
            for old in sorted(self._days)[:-_CACHED_DAYS]:
                del self._days[old]
        self._day_start_s, self._minutes = start_s, minutes


def limit_w(setpoints: Mapping[str, Sample], now_s: float, timeout_s: float) -> float | None:
    """The curtailment limit ``SetActivePowerLimit`` in W, or None (no limit) when unset,
    invalid or older than ``timeout_s``."""
    sample = setpoints.get("SetActivePowerLimit")
    if sample is None or now_s - sample.ts > timeout_s:
        return None
    value = sample.value
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return max(float(value), 0.0)
