"""Where the grid target comes from: daily steps in local time, or a CSV time series."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ems.edge.controllers.load_following.config import LoadFollowingParams, ScheduleStep
from ems.timeseries import Series, read_csv_series, resolve_path

__all__ = ["GridTarget", "ScheduleTarget", "grid_target"]

#: The grid power to hold [W, > 0 import] at a time [UTC epoch s].
GridTarget = Callable[[float], float]


class ScheduleTarget:
    """Daily steps: each holds from its local time until the next one's, the last one
    until the first one's the next day. Local wall-clock time, so a step at 07:00 is at
    07:00 on both sides of a daylight-saving change."""

    def __init__(self, steps: Sequence[ScheduleStep], timezone: str) -> None:
        self._starts_s = [s.minute_of_day * 60 for s in steps]
        self._grid_w = [s.grid_w for s in steps]
        self._tz = ZoneInfo(timezone)

    def __call__(self, now_s: float) -> float:
        local = datetime.fromtimestamp(now_s, self._tz)
        second_of_day = local.hour * 3600 + local.minute * 60 + local.second
        j = bisect.bisect_right(self._starts_s, second_of_day)
        return self._grid_w[j - 1]  # j == 0: before the first step, yesterday's last holds


def grid_target(params: LoadFollowingParams, timezone: str, config_dir: Path) -> GridTarget:
    """The target of ``params``; a CSV is read now, so a bad file stops the edge at start.

    Raises :class:`~ems.errors.ConfigError` naming the file, line and column.
    """
    if params.schedule is not None:
        return ScheduleTarget(params.schedule, timezone)
    # The params' validator: without a schedule there is a csv and its column.
    assert params.csv is not None
    assert params.column is not None
    path = resolve_path(params.csv, config_dir)
    series: Series = read_csv_series(path, [params.column])[params.column]
    return series.linear
