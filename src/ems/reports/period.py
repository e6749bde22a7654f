"""A report's period: a local day, week or month, as UTC bounds.

Periods are calendar periods of the site's time zone, so a day of a
daylight-saving change has 23 or 25 hours and March in Berlin has 743.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = ["Period", "PeriodKind"]


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in the site's zone: a day, 7 days from ``first``, or the month
    that holds ``first`` (which then is moved to the 1st)."""

    kind: PeriodKind
    first: dt.date  # the first local day
    timezone: ZoneInfo

    @classmethod
    def of(cls, kind: PeriodKind | str, start: dt.date, timezone: ZoneInfo) -> Period:
        kind = PeriodKind(kind)
        if kind is PeriodKind.MONTH:
            start = start.replace(day=1)
        return cls(kind, start, timezone)

    @property
    def last(self) -> dt.date:
        """The day after the last day (exclusive end)."""
        if self.kind is PeriodKind.DAY:
            return self.first + dt.timedelta(days=1)
        if self.kind is PeriodKind.WEEK:
            return self.first + dt.timedelta(days=7)
        year, month = divmod(self.first.month, 12)
        return dt.date(self.first.year + year, month + 1, 1)

    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range((self.last - self.first).days)]

    def midnight_s(self, day: dt.date) -> float:
        """UTC epoch seconds of local midnight starting ``day``."""
        return dt.datetime.combine(day, dt.time(), self.timezone).timestamp()

    @property
    def start_s(self) -> float:
        return self.midnight_s(self.first)

    @property
    def end_s(self) -> float:
        return self.midnight_s(self.last)

    @property
    def hours(self) -> float:
        return (self.end_s - self.start_s) / 3600.0

    def local(self, t_s: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(t_s, self.timezone)
