"""Parameters of the self-consumption controller (units in the names)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from ems.edge.controllers.base import ControllerParams

__all__ = ["SelfConsumptionParams"]


class SelfConsumptionParams(ControllerParams):
    battery: str | None = Field(
        default=None, description="Battery device id; default: the site's only battery"
    )
    grid: str | None = Field(
        default=None, description="Grid meter device id; default: the site's only grid meter"
    )
    target_grid_w: float = Field(
        default=0.0,
        allow_inf_nan=False,
        description="Grid power to hold [W], > 0 import, < 0 export",
    )
    deadband_w: float = Field(
        default=50.0,
        ge=0,
        allow_inf_nan=False,
        description="Setpoint changes smaller than this are not made, and the battery "
        "changes between charging and discharging only once the smoothed demand is "
        "beyond it (plus its measured noise) [W]",
    )
    smoothing_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Time constant of the demand filter that decides charge or discharge [s]",
    )
    min_soc_pct: float = Field(
        default=0.0, ge=0, le=100, description="No discharging at or below this SOC [%]"
    )
    max_soc_pct: float = Field(
        default=100.0, ge=0, le=100, description="No charging at or above this SOC [%]"
    )
    soc_hysteresis_pct: float = Field(
        default=2.0,
        ge=0,
        le=50,
        description="After hitting an SOC bound, the SOC must move back this far first [%]",
    )
    max_input_age_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Inputs older than this are stale: the battery idles at 0 W [s]",
    )

    @model_validator(mode="after")
    def _soc_window(self) -> Self:
        if self.min_soc_pct >= self.max_soc_pct:
            raise ValueError("min_soc_pct must be below max_soc_pct")
        return self
