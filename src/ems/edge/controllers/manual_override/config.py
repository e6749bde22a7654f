"""Parameters of the manual override controller."""

from __future__ import annotations

from pydantic import Field

from ems.edge.controllers.base import ControllerParams

__all__ = ["ManualOverrideParams"]


class ManualOverrideParams(ControllerParams):
    devices: list[str] | None = Field(
        default=None,
        description="Device ids this controller serves; default: every device with actions",
    )
