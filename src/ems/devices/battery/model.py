"""Battery simulator: an energy bucket behind an inverter that follows a power setpoint.

Signs (DESIGN.md §3): ``ActivePower`` > 0 discharging, < 0 charging, in W at the AC
side. Energy in Wh, SOC in % of the nominal capacity, time in UTC epoch seconds.

One :meth:`BatterySimulator.step` does two things in order:

1. it settles the interval that just ended, ``[now_s - dt_s, now_s)``, during which
   the power chosen at the previous step flowed: charging stores ``|P|·η·dt``,
   discharging draws ``P/η·dt`` from the cells;
2. it chooses the power for the interval that starts now: the setpoint clamped to
   the dynamic limits, which is what ``ActivePower`` reports.

Reactive power (``SetReactivePower``, var, > 0 injecting) shares the inverter's
rated apparent power with the active power (:mod:`ems.devices.apparent_power`);
it moves no energy in or out of the cells (inverter losses are not modelled).
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
from ems.devices.battery.config import BatteryConfig

__all__ = ["BatterySimulator", "setpoint_w"]

# Stored energy closer than this to a bound after a step lands on the bound.
_SNAP_WH = 1e-6


def setpoint_w(setpoints: Mapping[str, Sample], name: str, now_s: float, timeout_s: float) -> float:
    """The setpoint ``name`` in W, or 0 W when missing, not a number or stale.

    Stale means older than ``timeout_s`` at ``now_s``: a real inverter drops to
    0 W when its controller stops talking to it.
    """
    sample = setpoints.get(name)
    if sample is None or sample.value is None or isinstance(sample.value, bool):
        return 0.0
    if not isinstance(sample.value, int | float) or not math.isfinite(sample.value):
        return 0.0
    if now_s - sample.ts > timeout_s:
        return 0.0
    return float(sample.value)


@register_simulator
class BatterySimulator(Simulator):
    """A battery that follows ``SetActivePower`` within SOC-dependent power limits.

    ``Capacity`` reports the *usable* energy between ``min_soc_pct`` and
    ``max_soc_pct`` (the profile's meaning), while ``Soc`` is a percentage of the
    nominal capacity, so the energy available to discharge is
    ``(Soc - min_soc_pct) / 100 * capacity_wh``.
    """

    type_name: ClassVar[str] = "battery"
    config_model: ClassVar[type[SimulatorConfig]] = BatteryConfig
    balance_role: ClassVar[BalanceRole] = balance_role_of("battery")

    def __init__(self, device_id: str, config: BatteryConfig, site: SiteContext) -> None:
        super().__init__(device_id, config, site)
        self.config = config
        self._min_wh = config.capacity_wh * config.min_soc_pct / 100.0
        self._max_wh = config.capacity_wh * config.max_soc_pct / 100.0
        self._energy_wh = config.capacity_wh * config.initial_soc_pct / 100.0
        self._power_w = 0.0  # chosen at the last step, flows until the next one
        self._charge_wh = 0.0
        self._discharge_wh = 0.0
        self._horizon_s = config.step_s
        self._rating: ApparentPower = config.apparent_power(
            max(config.max_charge_power_w, config.max_discharge_power_w)
        )
        self._reactive_var = 0.0

    @property
    def energy_wh(self) -> float:
        """Energy stored in the cells now (Wh, DC side)."""
        return self._energy_wh

    @property
    def soc_pct(self) -> float:
        return self._energy_wh / self.config.capacity_wh * 100.0

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        if dt_s > 0:
            self._settle(dt_s)
            # The next interval is as long as this one was: stepped every 60 s (``ems
            # simulate`` at a 60 s cycle), the battery must not promise for a whole
            # minute a power its cells can only give for part of it.
            self._horizon_s = max(self.config.step_s, dt_s)
        max_charge_w, max_discharge_w = self.limits_w()
        timeout_s = setpoint_timeout_s(self.config.setpoint_timeout_s, self._horizon_s)
        wanted = setpoint_w(setpoints, "SetActivePower", now_s, timeout_s)
        wanted_var = setpoint_w(setpoints, "SetReactivePower", now_s, timeout_s)
        power_w = min(max(wanted, -max_charge_w), max_discharge_w)
        self._power_w, self._reactive_var = self._rating.share(power_w, wanted_var)
        return {
            "ActivePower": self._power_w,
            "ReactivePower": self._reactive_var,
            "MaxReactivePower": self._rating.available_var(self._power_w),
            "RatedApparentPower": self._rating.rated_va,
            "Soc": self.soc_pct,
            "MaxChargePower": max_charge_w,
            "MaxDischargePower": max_discharge_w,
            "Capacity": self._max_wh - self._min_wh,
            "State": self._state(),
            "ActiveChargeEnergy": self._charge_wh,
            "ActiveDischargeEnergy": self._discharge_wh,
        }

    def limits_w(self) -> tuple[float, float]:
        """Charge and discharge power (W, both >= 0) the battery accepts now.

        Rated power derates linearly to ``derate_floor`` of rated across the last
        ``derate_band_pct`` of SOC before a bound, and never exceeds what would
        reach the bound within one step (``step_s``, or the last step's length if
        longer): that lands SOC exactly on the bound in finite time, after which
        the limit is exactly 0, and the reported power flows for the whole step.
        """
        cfg = self.config
        charge_room_wh = self._max_wh - self._energy_wh
        discharge_room_wh = self._energy_wh - self._min_wh
        max_charge = 0.0
        if charge_room_wh > 0:
            factor = self._derate(charge_room_wh)
            headroom = charge_room_wh * 3600.0 / (cfg.efficiency * self._horizon_s)
            max_charge = min(cfg.max_charge_power_w * factor, headroom)
        max_discharge = 0.0
        if discharge_room_wh > 0:
            factor = self._derate(discharge_room_wh)
            headroom = discharge_room_wh * cfg.efficiency * 3600.0 / self._horizon_s
            max_discharge = min(cfg.max_discharge_power_w * factor, headroom)
        return max_charge, max_discharge

    def _derate(self, room_wh: float) -> float:
        """Fraction of rated power allowed with ``room_wh`` left before a bound."""
        cfg = self.config
        band_wh = cfg.capacity_wh * cfg.derate_band_pct / 100.0
        if band_wh <= 0 or room_wh >= band_wh:
            return 1.0
        return cfg.derate_floor + (1.0 - cfg.derate_floor) * room_wh / band_wh

    def _settle(self, dt_s: float) -> None:
        """Apply the power of the interval that just ended to the cells and counters.

        A step longer than ``step_s`` could overshoot a bound: the BMS stops at the
        bound, so only the energy actually moved is counted on the AC side. Landing
        within ``_SNAP_WH`` of a bound lands on it, so float residue never leaves a
        sliver of room (and a tiny non-zero limit) behind.
        """
        eta = self.config.efficiency
        p = self._power_w
        if p < 0:
            stored = min(-p * eta * dt_s / 3600.0, self._max_wh - self._energy_wh)
            if self._energy_wh + stored >= self._max_wh - _SNAP_WH:
                stored = self._max_wh - self._energy_wh
                self._energy_wh = self._max_wh
            else:
                self._energy_wh += stored
            self._charge_wh += stored / eta
        elif p > 0:
            drawn = min(p / eta * dt_s / 3600.0, self._energy_wh - self._min_wh)
            if self._energy_wh - drawn <= self._min_wh + _SNAP_WH:
                drawn = self._energy_wh - self._min_wh
                self._energy_wh = self._min_wh
            else:
                self._energy_wh -= drawn
            self._discharge_wh += drawn * eta
        # Never outside the window, whatever the float arithmetic did.
        self._energy_wh = min(max(self._energy_wh, self._min_wh), self._max_wh)

    def _state(self) -> str:
        if self._power_w < 0:
            return "charging"
        if self._power_w > 0:
            return "discharging"
        if self._energy_wh >= self._max_wh:
            return "full"
        if self._energy_wh <= self._min_wh:
            return "empty"
        return "idle"
