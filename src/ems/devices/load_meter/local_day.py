"""Local calendar days of a time zone, as UTC intervals, with DST handled exactly.

Simulators that follow the site's local routine (load profiles, unmetered
flows) look a day up once and then map instants to wall-clock time with plain
arithmetic, which is far cheaper per step than a ``zoneinfo`` conversion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

__all__ = ["LocalDay", "local_day"]


@dataclass(frozen=True, slots=True)
class LocalDay:
    """One local calendar day: ``[start_s, end_s)`` in UTC epoch seconds."""

    date: dt.date
    start_s: float  # local midnight
    end_s: float  # the next local midnight (23 h or 25 h later on DST days)
    switch_s: float  # where the UTC offset changes; end_s when it does not that day
    offset_before_s: float
    offset_after_s: float

    def contains(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s

    def wall_s(self, t_s: float) -> float:
        """Local wall-clock seconds since midnight at ``t_s`` (0 .. 86,400)."""
        offset = self.offset_before_s if t_s < self.switch_s else self.offset_after_s
        return t_s + offset - (self.start_s + self.offset_before_s)


def local_day(t_s: float, tz: ZoneInfo) -> LocalDay:
    """The local day of ``tz`` that contains the instant ``t_s`` (UTC epoch seconds)."""
    date = dt.datetime.fromtimestamp(t_s, tz).date()
    start_s = dt.datetime.combine(date, dt.time(), tz).timestamp()
    end_s = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tz).timestamp()
    before = _offset_s(start_s, tz)
    after = _offset_s(end_s - 1.0, tz)
    switch_s = end_s
    if after != before:
        # Offsets change on whole seconds: bisect for the first second with the new one.
        lo, hi = start_s, end_s - 1.0
        while hi - lo > 1.0:
            mid = float((lo + hi) // 2)
            if _offset_s(mid, tz) == before:
                lo = mid
            else:
                hi = mid
        switch_s = hi
    return LocalDay(date, start_s, end_s, switch_s, before, after)


def _offset_s(t_s: float, tz: ZoneInfo) -> float:
    offset = dt.datetime.fromtimestamp(t_s, tz).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()
