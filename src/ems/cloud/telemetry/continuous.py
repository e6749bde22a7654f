"""Rollups as TimescaleDB continuous aggregates (the hypertable mode's rollups).

On a hypertable the database keeps the rollups itself: one continuous
aggregate per width (``telemetry_rollup_900``, ``telemetry_rollup_3600``)
grouped by edge, channel and ``time_bucket``, with the same sums as the plain
rollup table (``ROLLUP_SUMS_SQL`` over ``ROLLUP_FILTER_SQL`` from
:mod:`ems.cloud.telemetry.rollup`, shared with the cloud-maintained path), and
a view ``telemetry_rollup`` with the plain table's columns over both. Reports
read ``telemetry_rollup`` in either mode, so the report SQL exists once; the
view adds a ``bucket`` timestamp the store also filters on, so the range
reaches the aggregates' time index.

Freshness, newest first:

- **Real-time aggregation** (``materialized_only = false``): rows after an
  aggregate's watermark are aggregated from the hypertable at query time.
- **Refresh policies** materialize ``[now - 3 days, now - 2 h)`` every 10 min,
  which keeps the watermark at least two hours back.
- **Late rows** (behind the watermark) would otherwise be invisible until the
  next policy run: after writing a batch, the store refreshes the hours its
  late power rows fall in (:func:`late_window`, :func:`refresh`). A row counts
  as late when it is older than the hour boundary one hour before now; as the
  policy's watermark trails by two hours, the cloud's and the database's
  clocks may disagree by up to an hour without a late row being missed.

``time_bucket``'s default origin (2000-01-03, a whole number of days after the
epoch) aligns 15-min and 1-h buckets exactly as the plain path's
``floor(epoch / width) * width`` does.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable

import asyncpg

from ems.cloud.telemetry.model import Row
from ems.cloud.telemetry.rollup import (
    ROLLUP_FILTER_SQL,
    ROLLUP_SUMS_SQL,
    ROLLUP_WIDTHS_S,
    is_power_channel,
)

__all__ = [
    "AGGREGATES",
    "SCHEMA_STEP",
    "initial_window",
    "late_window",
    "refresh",
]

#: Continuous aggregate per width (seconds).
AGGREGATES = {width: f"telemetry_rollup_{width}" for width in ROLLUP_WIDTHS_S}

_HOUR_S = 3600
#: Rows older than the hour boundary this long before now may be behind a watermark.
_LIVE_S = 3600
#: Waits between attempts at a refresh that overlaps another (about 13 s in all).
_RETRY_PAUSES_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4)
_POLICY = (
    "start_offset => interval '3 days', end_offset => interval '2 hours',"
    " schedule_interval => interval '10 minutes'"
)


def _aggregate_sql(width_s: int) -> str:
    return f"""CREATE MATERIALIZED VIEW {AGGREGATES[width_s]}
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT edge_id, channel, time_bucket(interval '{width_s} seconds', time) AS bucket,
        {ROLLUP_SUMS_SQL}
    FROM telemetry
    WHERE {ROLLUP_FILTER_SQL}
    GROUP BY edge_id, channel, bucket
    WITH NO DATA"""


def _named_sums_sql(width_s: int) -> str:
    return f"""SELECT edge_id, channel, {width_s} AS width_s,
        extract(epoch FROM bucket)::bigint AS bucket_s, bucket,
        n, sum_w, sum_in_w, sum_out_w, min_w, max_w
    FROM {AGGREGATES[width_s]}"""


#: The hypertable mode's schema step: the cloud-maintained table gives way to the aggregates.
SCHEMA_STEP: tuple[str, ...] = (
    "DROP TABLE telemetry_rollup",
    *(_aggregate_sql(w) for w in ROLLUP_WIDTHS_S),
    *(
        f"SELECT add_continuous_aggregate_policy('{AGGREGATES[w]}', {_POLICY})"
        for w in ROLLUP_WIDTHS_S
    ),
    "CREATE VIEW telemetry_rollup AS\n"
    + "\nUNION ALL\n".join(_named_sums_sql(w) for w in ROLLUP_WIDTHS_S),
)


def late_window(rows: Iterable[Row], now_s: float) -> tuple[int, int] | None:
    """The whole hours ``[start, end)`` to refresh for ``rows`` written at ``now_s``, or
    ``None`` when no power value among them may be behind an aggregate's watermark."""
    cutoff = math.floor((now_s - _LIVE_S) / _HOUR_S) * _HOUR_S
    late = [r[0] for r in rows if r[0] < cutoff and r[3] is not None and is_power_channel(r[2])]
    if not late:
        return None
    start = math.floor(min(late) / _HOUR_S) * _HOUR_S
    return start, min(math.floor(max(late) / _HOUR_S) * _HOUR_S + _HOUR_S, cutoff)


async def refresh(conn: asyncpg.Connection, window: tuple[int | None, int]) -> None:
    """Materialize ``window`` (epoch seconds; ``None``: from the beginning) in every
    aggregate. Outside any transaction: TimescaleDB refuses to refresh inside one.

    TimescaleDB refuses a refresh whose window overlaps one in progress (another
    writer's late rows, or a policy run) rather than waiting; that one may have
    read the invalidations before these rows committed, so this one is retried
    with backoff, and raises ``asyncpg.LockNotAvailableError`` if it never gets in.
    """
    start = "NULL" if window[0] is None else f"to_timestamp({int(window[0])})"
    for name in AGGREGATES.values():
        # The simple query protocol (no parameters): CALL must not run in an implicit
        # transaction block, and the bounds are integers this module computed.
        sql = (
            f"CALL refresh_continuous_aggregate('{name}', {start}, to_timestamp({int(window[1])}))"
        )
        for pause_s in (*_RETRY_PAUSES_S, None):
            try:
                await conn.execute(sql)
                break
            except asyncpg.LockNotAvailableError:
                if pause_s is None:
                    raise
                await asyncio.sleep(pause_s)  # backoff before retrying the refresh


def initial_window(now_s: float) -> tuple[None, int]:
    """Everything up to the live cutoff: what a database that just got the aggregates
    materializes once (the policies only look three days back)."""
    return None, math.floor((now_s - _LIVE_S) / _HOUR_S) * _HOUR_S
