"""Grid events a simulated grid meter plays: voltage sags and swells, frequency excursions.

An event holds the feeder voltage and/or the grid frequency at a value for a
while, so grid-support controllers (volt-var, frequency-watt) have something
to respond to. It starts at an absolute time (``at``, UTC) or ``start_s``
seconds after the simulator's first step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["GridEvent", "GridEvents"]


class GridEvent(BaseModel):
    """One event: ``voltage_v`` and/or ``frequency_hz`` for ``duration_s`` seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_s: float | None = Field(
        default=None, ge=0, description="Start, seconds after the first step (s)."
    )
    at: dt.datetime | None = Field(default=None, description="Start as a time (UTC if naive).")
    duration_s: float = Field(gt=0, description="How long the event lasts (s).")
    voltage_v: float | None = Field(
        default=None, gt=0, description="Feeder voltage during the event, replaces nominal (V)."
    )
    frequency_hz: float | None = Field(
        default=None, gt=0, description="Grid frequency during the event (Hz)."
    )

    @model_validator(mode="after")
    def _one_start_some_value(self) -> Self:
        if (self.start_s is None) == (self.at is None):
            raise ValueError("give exactly one of start_s and at")
        if self.voltage_v is None and self.frequency_hz is None:
            raise ValueError("give voltage_v, frequency_hz or both")
        return self

    def start_epoch_s(self, first_step_s: float) -> float:
        if self.at is not None:
            at = self.at if self.at.tzinfo is not None else self.at.replace(tzinfo=dt.UTC)
            return at.timestamp()
        assert self.start_s is not None
        return first_step_s + self.start_s


class GridEvents:
    """The events of one meter, placed in time once its first step is known."""

    def __init__(self, events: Sequence[GridEvent]) -> None:
        self._events = tuple(events)
        self._windows: list[tuple[float, float, GridEvent]] | None = None

    def start(self, first_step_s: float) -> None:
        """Anchor ``start_s`` offsets at the first step (UTC epoch s); later calls do nothing."""
        if self._windows is None:
            self._windows = [
                (s, s + e.duration_s, e)
                for e in self._events
                for s in (e.start_epoch_s(first_step_s),)
            ]

    def voltage_v(self, now_s: float) -> float | None:
        """The feeder voltage an event holds at ``now_s`` (the last listed wins), or None."""
        for start, end, event in reversed(self._windows or ()):
            if event.voltage_v is not None and start <= now_s < end:
                return event.voltage_v
        return None

    def frequency_hz(self, now_s: float) -> float | None:
        """The frequency an event holds at ``now_s`` (the last listed wins), or None."""
        for start, end, event in reversed(self._windows or ()):
            if event.frequency_hz is not None and start <= now_s < end:
                return event.frequency_hz
        return None
