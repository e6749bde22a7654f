"""Parameters of the time-of-use schedule (units in the names)."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ems.edge.controllers.base import ControllerParams

__all__ = ["DAYS", "MINUTES_PER_WEEK", "TouScheduleParams", "TouWindowParams", "week_table"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_MIN = 1440
MINUTES_PER_WEEK = 7 * _DAY_MIN
_HHMM = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|24:00)$")


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class TouWindowParams(BaseModel):
    """From ``from`` to ``to`` (local; ``to`` before ``from`` runs past midnight) on
    ``days`` (the day it starts; all by default), the battery does ``action``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: str = Field(alias="from", description='Start, local "HH:MM"')
    to: str = Field(description='End, local "HH:MM" ("24:00": midnight at the end of the day)')
    days: list[str] | None = Field(
        default=None, description="Days it starts on (mon … sun); default: every day"
    )
    action: Literal["charge", "discharge", "idle"]
    power_w: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Charge or discharge power [W]; default: the battery's live limit",
    )
    until_soc_pct: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Charge up to / discharge down to this SOC, then idle [%]",
    )

    @field_validator("from_", "to")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if _HHMM.match(value) is None:
            raise ValueError(f'{value!r} is not a local time "HH:MM" from "00:00" to "24:00"')
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[str] | None) -> list[str] | None:
        if days is None:
            return None
        if not days:
            raise ValueError("give at least one day, or leave days out for every day")
        for day in days:
            if day not in DAYS:
                raise ValueError(f"{day!r} is not one of {', '.join(DAYS)}")
        if len(set(days)) != len(days):
            raise ValueError("each day once")
        return days

    @model_validator(mode="after")
    def _sense(self) -> Self:
        if self.from_ == self.to:
            raise ValueError(f"from {self.from_!r} equals to {self.to!r}: an empty window")
        if self.from_ == "24:00":
            raise ValueError('from: "24:00" is the end of a day; start at "00:00"')
        if self.action == "idle" and (self.power_w is not None or self.until_soc_pct is not None):
            raise ValueError("power_w and until_soc_pct: not with action idle")
        return self

    def minutes_of_week(self) -> list[range]:
        """The minutes of the week (0 = Monday 00:00 local) the window covers."""
        start, end = _minutes(self.from_), _minutes(self.to)
        length = end - start if end > start else end + _DAY_MIN - start
        spans = []
        for day in self.days or DAYS:
            first = DAYS.index(day) * _DAY_MIN + start
            spans.append(range(first, first + length))
        return spans


class TouScheduleParams(ControllerParams):
    battery: str | None = Field(
        default=None, description="Battery device id; default: the site's only battery"
    )
    windows: list[TouWindowParams] = Field(description="Windows that must not overlap")
    max_input_age_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Inside a window, inputs older than this idle the battery (0 W) [s]",
    )

    @field_validator("windows")
    @classmethod
    def _no_overlap(cls, windows: list[TouWindowParams]) -> list[TouWindowParams]:
        if not windows:
            raise ValueError("give at least one window")
        week_table(windows)
        return windows


def week_table(windows: list[TouWindowParams]) -> list[int]:
    """For each minute of the week, the index of the window covering it, or -1.

    Raises ``ValueError`` naming two windows that overlap."""
    table = [-1] * MINUTES_PER_WEEK
    for i, window in enumerate(windows):
        for span in window.minutes_of_week():
            for minute in span:
                m = minute % MINUTES_PER_WEEK  # Sunday's window past midnight: Monday
                if table[m] != -1:
                    j = table[m]
                    day, hhmm = DAYS[m // _DAY_MIN], m % _DAY_MIN
                    raise ValueError(
                        f"windows[{j}] and windows[{i}] overlap "
                        f"(both cover {day} {hhmm // 60:02d}:{hhmm % 60:02d})"
                    )
                table[m] = i
    return table
