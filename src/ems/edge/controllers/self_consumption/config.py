"""Parameters of the self-consumption controller (units in the names)."""

from __future__ import annotations

from pydantic import Field

from ems.edge.controllers.grid_target import GridTargetParams

__all__ = ["SelfConsumptionParams"]


class SelfConsumptionParams(GridTargetParams):
    enabled: bool = Field(
        default=True, description="Off: the controller stands aside and writes nothing"
    )
    target_grid_w: float = Field(
        default=0.0,
        allow_inf_nan=False,
        description="Grid power to hold [W], > 0 import, < 0 export",
    )
