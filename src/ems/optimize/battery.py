"""The battery as the optimiser and the reference rules see it: the simulator's numbers, linear.

Energy in Wh (DC side, in the cells), power in W (AC side), SOC in % of the
nominal capacity. Charging ``c`` W for ``dt`` h stores ``c·η·dt`` Wh;
discharging ``d`` W draws ``d/η·dt`` Wh, as :mod:`ems.devices.battery.model`
settles its steps. The power limits derate linearly to ``derate_floor`` of
rated across the last ``derate_band_pct`` of SOC before a bound, exactly as
the simulator's do; both limits are linear in the stored energy, so a linear
program can hold them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ems.devices.battery.config import BatteryConfig

__all__ = ["BatteryModel"]


@dataclass(frozen=True, slots=True)
class BatteryModel:
    capacity_wh: float
    max_charge_power_w: float
    max_discharge_power_w: float
    efficiency: float  # one way, AC <-> DC (0..1]
    min_soc_pct: float
    max_soc_pct: float
    initial_soc_pct: float
    derate_band_pct: float = 0.0  # 0: full power up to the bounds
    derate_floor: float = 1.0  # fraction of rated power left at a bound

    def __post_init__(self) -> None:
        if self.capacity_wh <= 0 or self.max_charge_power_w < 0 or self.max_discharge_power_w < 0:
            raise ValueError("capacity must be positive and power limits not negative")
        if not 0 < self.efficiency <= 1:
            raise ValueError("efficiency must lie in (0, 1]")
        if not 0 <= self.min_soc_pct < self.max_soc_pct <= 100:
            raise ValueError("need 0 <= min_soc_pct < max_soc_pct <= 100")
        if not self.min_soc_pct <= self.initial_soc_pct <= self.max_soc_pct:
            raise ValueError("initial_soc_pct must lie within [min_soc_pct, max_soc_pct]")
        if self.derate_band_pct < 0 or not 0 < self.derate_floor <= 1:
            raise ValueError("derate_band_pct must not be negative, derate_floor in (0, 1]")

    @classmethod
    def from_config(cls, config: BatteryConfig) -> BatteryModel:
        """The model of the simulated battery ``config`` describes (same numbers, same limits)."""
        return cls(
            capacity_wh=config.capacity_wh,
            max_charge_power_w=config.max_charge_power_w,
            max_discharge_power_w=config.max_discharge_power_w,
            efficiency=config.efficiency,
            min_soc_pct=config.min_soc_pct,
            max_soc_pct=config.max_soc_pct,
            initial_soc_pct=config.initial_soc_pct,
            derate_band_pct=config.derate_band_pct,
            derate_floor=config.derate_floor,
        )

    @property
    def min_wh(self) -> float:
        return self.capacity_wh * self.min_soc_pct / 100.0

    @property
    def max_wh(self) -> float:
        return self.capacity_wh * self.max_soc_pct / 100.0

    @property
    def initial_wh(self) -> float:
        return self.capacity_wh * self.initial_soc_pct / 100.0

    @property
    def derate_band_wh(self) -> float:
        return self.capacity_wh * self.derate_band_pct / 100.0

    def charge_limit_w(self, energy_wh: float) -> float:
        """Rated charge power derated for the room left below the upper bound (W, >= 0)."""
        return self.max_charge_power_w * self._derate(self.max_wh - energy_wh)

    def discharge_limit_w(self, energy_wh: float) -> float:
        """Rated discharge power derated for the energy left above the lower bound (W, >= 0)."""
        return self.max_discharge_power_w * self._derate(energy_wh - self.min_wh)

    def _derate(self, room_wh: float) -> float:
        band = self.derate_band_wh
        if room_wh <= 0:
            return 0.0
        if band <= 0 or room_wh >= band:
            return 1.0
        return self.derate_floor + (1.0 - self.derate_floor) * room_wh / band
