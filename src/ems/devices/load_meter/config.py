"""Parameters of the simulated consumption meter (energy in kWh per year, fractions 0..1)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ems.devices.base import SimulatorConfig

__all__ = ["LoadMeterConfig"]


class LoadMeterConfig(SimulatorConfig):
    """A site's consumption; defaults describe a 4,500 kWh/year household."""

    profile: Literal["residential", "commercial"] = Field(
        default="residential", description="Daily and weekly shape of the consumption."
    )
    annual_energy_kwh: float = Field(default=4_500.0, gt=0, description="Energy consumed per year.")
    seasonal_amplitude: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Relative winter excess (and summer deficit) of demand.",
    )
    noise_fraction: float = Field(
        default=0.15,
        ge=0,
        le=0.5,
        description="Standard deviation of the relative minute-scale noise.",
    )
