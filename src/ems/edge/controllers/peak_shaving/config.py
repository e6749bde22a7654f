"""Parameters of the peak-shaving controller (units in the names)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from ems.edge.controllers.base import ControllerParams

__all__ = ["PeakShavingParams"]


class PeakShavingParams(ControllerParams):
    battery: str | None = Field(
        default=None, description="Battery device id; default: the site's only battery"
    )
    grid: str | None = Field(
        default=None, description="Grid meter device id; default: the site's only grid meter"
    )
    peak_import_w: float = Field(
        ge=0, allow_inf_nan=False, description="Grid import above this is discharged [W]"
    )
    recharge_below_w: float = Field(
        default=0.0,
        ge=0,
        allow_inf_nan=False,
        description="The battery recharges only while import is below this, and never so "
        "much that import goes above it; below peak_import_w [W]",
    )
    reserve_soc_pct: float = Field(
        default=0.0,
        ge=0,
        le=100,
        description="Energy kept for peaks: at or below this SOC nothing but a peak "
        "discharges the battery (a less important controller such as self-consumption "
        "stops there), and once a peak took it more than reserve_hysteresis_pct below, the "
        "battery recharges from the grid (within recharge_below_w) back up to it [%]",
    )
    reserve_hysteresis_pct: float = Field(
        default=2.0,
        gt=0,
        le=50,
        description="How far below reserve_soc_pct the SOC must be before the reserve is "
        "restored from the grid, so the SOC resting at the reserve does not flicker "
        "between discharging and recharging [%]",
    )
    max_input_age_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Inputs older than this are stale: the controller stands aside [s]",
    )

    @model_validator(mode="after")
    def _recharge_below_peak(self) -> Self:
        # The gap between the two keeps an import hovering at the peak from making the
        # battery alternate between shaving and recharging.
        if self.recharge_below_w >= self.peak_import_w:
            raise ValueError("recharge_below_w must be below peak_import_w")
        return self
