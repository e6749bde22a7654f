"""Parameters of the load-following controller (units in the names)."""

from __future__ import annotations

import itertools
import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ems.edge.controllers.grid_target import GridTargetParams

__all__ = ["LoadFollowingParams", "ScheduleStep"]

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ScheduleStep(BaseModel):
    """From ``at`` (the site's local time) the grid is held at ``grid_w`` until the next step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: str = Field(description='Local time "HH:MM" ("00:00" to "23:59") the step starts')
    grid_w: float = Field(allow_inf_nan=False, description="Grid power to hold [W], > 0 import")

    @field_validator("at")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if _HHMM.match(value) is None:
            raise ValueError(f'{value!r} is not a local time "HH:MM" from "00:00" to "23:59"')
        return value

    @property
    def minute_of_day(self) -> int:
        hours, minutes = self.at.split(":")
        return int(hours) * 60 + int(minutes)


class LoadFollowingParams(GridTargetParams):
    """Exactly one source of the grid target: ``schedule``, or ``csv`` with ``column``."""

    schedule: list[ScheduleStep] | None = Field(
        default=None,
        description="Daily steps in strictly increasing local time; before the first "
        "step of a day the day's last step still holds",
    )
    csv: str | None = Field(
        default=None,
        min_length=1,
        description="CSV of timestamps and grid targets [W], linear between rows and held "
        "past the ends; relative to the config file's folder",
    )
    column: str | None = Field(default=None, min_length=1, description="The CSV's target column")

    @field_validator("schedule")
    @classmethod
    def _increasing(cls, steps: list[ScheduleStep] | None) -> list[ScheduleStep] | None:
        if steps is None:
            return None
        if not steps:
            raise ValueError("give at least one step")
        for a, b in itertools.pairwise(steps):
            if b.minute_of_day <= a.minute_of_day:
                raise ValueError(
                    f"{b.at!r} comes after {a.at!r}: steps must be in strictly increasing "
                    "time, each time once"
                )
        return steps

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.schedule is not None and self.csv is not None:
            raise ValueError("schedule and csv: give one of the two, not both")
        if self.schedule is None and self.csv is None:
            raise ValueError("schedule or csv: give one of the two")
        if self.csv is not None and self.column is None:
            raise ValueError("column: name the csv's column of grid targets [W]")
        if self.csv is None and self.column is not None:
            raise ValueError("column: only with csv")
        return self
