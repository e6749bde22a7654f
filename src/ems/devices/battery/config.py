"""Parameters of the simulated battery (energy in Wh, power in W, SOC in % of nominal)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from ems.devices.apparent_power import ReactiveConfig

__all__ = ["BatteryConfig"]


class BatteryConfig(ReactiveConfig):
    """A residential battery with its inverter; defaults describe a 10 kWh / 5 kW system.

    The inverter's rated apparent power defaults to the larger rated charge or
    discharge power (see :class:`~ems.devices.apparent_power.ReactiveConfig`).
    """

    capacity_wh: float = Field(default=10_000.0, gt=0, description="Nominal energy capacity (Wh).")
    max_charge_power_w: float = Field(
        default=5_000.0, gt=0, description="Rated AC charge power (W)."
    )
    max_discharge_power_w: float = Field(
        default=5_000.0, gt=0, description="Rated AC discharge power."
    )
    efficiency: float = Field(
        default=0.95, gt=0, le=1, description="One-way AC<->DC efficiency (0..1]."
    )
    min_soc_pct: float = Field(
        default=10.0, ge=0, le=100, description="Lowest SOC the BMS allows (%)."
    )
    max_soc_pct: float = Field(
        default=95.0, ge=0, le=100, description="Highest SOC the BMS allows (%)."
    )
    initial_soc_pct: float = Field(default=50.0, ge=0, le=100, description="SOC at start (%).")
    derate_band_pct: float = Field(
        default=5.0, ge=0, le=100, description="SOC band before a bound in which power derates (%)."
    )
    derate_floor: float = Field(
        default=0.1, gt=0, le=1, description="Derated power at the bound, as a fraction of rated."
    )
    setpoint_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A SetActivePower (SetReactivePower) older than this falls back to 0 W "
        "(0 var) (s).",
    )
    step_s: float = Field(
        default=1.0, gt=0, description="Nominal step; the horizon for the SOC headroom limit (s)."
    )

    @model_validator(mode="after")
    def _check_soc_window(self) -> Self:
        if self.min_soc_pct >= self.max_soc_pct:
            raise ValueError("min_soc_pct must be below max_soc_pct")
        if not self.min_soc_pct <= self.initial_soc_pct <= self.max_soc_pct:
            raise ValueError("initial_soc_pct must lie within [min_soc_pct, max_soc_pct]")
        return self
