"""When a subscribed report is due: the end of the site's local day, week or month.

Weeks are ISO weeks (Monday to Sunday). Ends are local midnights converted to
UTC, so a month with a daylight-saving change ends at the right instant.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ems.reports.period import Period, PeriodKind

__all__ = ["period_ending_after", "period_starting"]


def period_starting(kind: PeriodKind, first: dt.date, timezone: ZoneInfo) -> Period:
    return Period.of(kind, first, timezone)


def period_ending_after(kind: PeriodKind, now_s: float, timezone: ZoneInfo) -> Period:
    """The period of ``kind`` that holds ``now_s`` (so it ends strictly after ``now_s``)."""
    today = dt.datetime.fromtimestamp(now_s, timezone).date()
    if kind is PeriodKind.DAY:
        first = today
    elif kind is PeriodKind.WEEK:
        first = today - dt.timedelta(days=today.weekday())
    else:
        first = today.replace(day=1)
    return Period.of(kind, first, timezone)
