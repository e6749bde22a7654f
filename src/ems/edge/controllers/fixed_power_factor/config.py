"""Parameters of the fixed power factor controller (IEEE 1547-2018 §5.3.2)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ems.edge.controllers.base import ControllerParams

__all__ = ["FixedPowerFactorParams"]


class FixedPowerFactorParams(ControllerParams):
    device: str = Field(description="Battery or PV inverter whose SetReactivePower is written")
    power_factor: float = Field(
        gt=0,
        le=1,
        description="Displacement power factor |P| / S to hold, (0, 1]; 1 = unity, no vars",
    )
    direction: Literal["absorbing", "injecting"] = Field(
        default="absorbing",
        description="absorbing (under-excited, Q < 0: lowers the voltage, what a PV feeder with "
        "voltage rise needs) or injecting (over-excited, Q > 0)",
    )
    max_input_age_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Inputs older than this are stale: 0 var is written [s]",
    )
