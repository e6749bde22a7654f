"""The production telemetry store: PostgreSQL (TimescaleDB when present) through asyncpg.

A write is one transaction on one pooled connection, in two round trips:

1. binary ``COPY`` of the rows into a per-connection temporary staging table
   (temporary tables are not WAL-logged, and COPY is the fastest way in);
2. one statement that inserts the staged rows into ``telemetry`` and upserts
   the newest staged row per channel into ``telemetry_latest``, where it is
   newer than what is stored, and adds the rows the history took to the 15-min
   and 1-h rollups (:mod:`ems.cloud.telemetry.rollup`). On a TimescaleDB
   hypertable, continuous aggregates keep the rollups instead, and a batch
   holding late rows is followed by a refresh of their hours
   (:mod:`ems.cloud.telemetry.continuous`).

Re-sent rows must not duplicate history. The unique key (edge_id, channel,
time) guarantees that; the insert first runs without ``ON CONFLICT`` (cheaper),
and a batch the key refuses is redone with ``ON CONFLICT DO NOTHING``, which
then stays on for a minute. Staged times are epoch seconds (float8) converted
by ``to_timestamp`` in SQL, so Python builds no ``datetime`` per row.

With ``latest_every_s`` > 0 an edge's latest values are upserted with at most
one batch of it in that many seconds (in the others only history and rollups
are written): the upsert of every channel's latest value was about half of the
database's time per value, and only the newest row of a channel survives
anyway. An edge whose upsert was skipped and that then sent nothing for
``latest_every_s`` (it went silent or disconnected) is caught up from history,
each channel's newest row newer than the table's, by a loop of the store
running every ``latest_every_s``. The table then trails a streaming edge's
history by at most that, and a silent edge's by at most about twice that;
values keep their own sample times, so whoever reads them (commands validated
on another process, DESIGN 7) judges their age correctly. A channel that an
edge sent for the first time only in skipped batches just before it went
silent reaches the table with its next frame.

The staging table is made per connection when the pool opens it, which
assumes session-level pooling (behind a transaction-mode PgBouncer it would
have to be ``CREATE TEMP TABLE … ON COMMIT DROP`` in every batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg

from ems.cloud.background import BackgroundLoop
from ems.cloud.telemetry import continuous, pg_schema
from ems.cloud.telemetry.buckets import bucket_width_s
from ems.cloud.telemetry.model import HistoryPoint, LatestValue, Row
from ems.cloud.telemetry.pg_schema import StorageMode
from ems.cloud.telemetry.rollup import (
    ROLLUP_FILTER_SQL,
    ROLLUP_SUMS_SQL,
    RollupPoint,
    check_width,
)

__all__ = ["PostgresTelemetryStore", "merge_sql"]

log = logging.getLogger(__name__)

_STAGING = "telemetry_staging"
_STAGING_COLUMNS = ("time_s", "edge_id", "channel", "value", "text_value")  # TelemetryRow order
_CREATE_STAGING = f"""CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} (
    time_s double precision, edge_id text COLLATE "C", channel text COLLATE "C",
    value double precision, text_value text
) ON COMMIT DELETE ROWS"""

# One statement, one pass over the staged rows. DISTINCT ON sorts by (edge_id,
# channel), so concurrent writers lock latest rows in the same order and cannot
# deadlock each other; the rollup rows are taken in key order for the same reason.
# Only a strictly newer row replaces a latest value: a re-sent sample (same time)
# changes nothing, as history keeps the first row written for a time. The rollups
# add up only the rows history took: in the plain insert that is every staged row
# (a duplicate fails the whole statement), with ON CONFLICT what the insert RETURNs.
_MERGE_HEAD = f"""
WITH staged AS (
    SELECT to_timestamp(time_s) AS time, edge_id, channel, value, text_value
    FROM pg_temp.{_STAGING}
), history AS (
    INSERT INTO telemetry (time, edge_id, channel, value, text_value)
    SELECT time, edge_id, channel, value, text_value FROM staged
    {{on_conflict}}
), latest AS (
    INSERT INTO telemetry_latest (edge_id, channel, time, value, text_value)
    SELECT DISTINCT ON (edge_id, channel) edge_id, channel, time, value, text_value
    FROM staged {{latest_filter}}
    ORDER BY edge_id, channel, time DESC
    ON CONFLICT (edge_id, channel) DO UPDATE
    SET time = excluded.time, value = excluded.value, text_value = excluded.text_value
    WHERE excluded.time > telemetry_latest.time
)
"""
_ROLLUP_TAIL = f"""INSERT INTO telemetry_rollup AS r
    (edge_id, channel, width_s, bucket_s, n, sum_w, sum_in_w, sum_out_w, min_w, max_w)
SELECT edge_id, channel, w.width_s,
    (floor(extract(epoch FROM time) / w.width_s) * w.width_s)::bigint AS bucket,
    {ROLLUP_SUMS_SQL}
FROM {{rollup_source}} CROSS JOIN (VALUES (900), (3600)) AS w(width_s)
WHERE {ROLLUP_FILTER_SQL}
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT (edge_id, channel, width_s, bucket_s) DO UPDATE SET
    n = r.n + excluded.n, sum_w = r.sum_w + excluded.sum_w,
    sum_in_w = r.sum_in_w + excluded.sum_in_w, sum_out_w = r.sum_out_w + excluded.sum_out_w,
    min_w = least(r.min_w, excluded.min_w), max_w = greatest(r.max_w, excluded.max_w)"""
# Duplicates are rare (frames re-sent after a reconnect), and a plain insert is
# markedly cheaper than ON CONFLICT's speculative insertion: try it first, and
# when the unique key refuses a batch, redo it with DO NOTHING and keep doing
# so for a while (re-sends come in bursts).
# On a hypertable the continuous aggregates roll up; the CTEs above run whether or
# not the final statement reads them.
_NO_ROLLUP_TAIL = "SELECT 1"
_DEDUPE = "ON CONFLICT (edge_id, channel, time) DO NOTHING"
_RETURNING = "\n    RETURNING time, edge_id, channel, value"
_LATEST_OF_SOME = "WHERE edge_id = ANY($1::text[])"


def merge_sql(*, rollups: bool, dedupe: bool, latest_of_some: bool = False) -> str:
    """The merge statement: with the cloud-maintained rollups or without (continuous
    aggregates, or the bench's baseline), with ``ON CONFLICT DO NOTHING`` or without,
    upserting the latest values of every staged edge or (``latest_of_some``) only of
    the edges in ``$1``."""
    latest_filter = _LATEST_OF_SOME if latest_of_some else ""
    if not rollups:
        head = _MERGE_HEAD.format(
            on_conflict=_DEDUPE if dedupe else "", latest_filter=latest_filter
        )
        return head + _NO_ROLLUP_TAIL
    head = _MERGE_HEAD.format(
        on_conflict=_DEDUPE + _RETURNING if dedupe else "", latest_filter=latest_filter
    )
    return head + _ROLLUP_TAIL.format(rollup_source="history" if dedupe else "staged")


# An edge's latest values from history where history is newer: one index probe per
# channel the table knows of that edge (the key is (edge_id, channel, time)).
_CATCH_UP_LATEST = """INSERT INTO telemetry_latest (edge_id, channel, time, value, text_value)
SELECT l.edge_id, l.channel, h.time, h.value, h.text_value
FROM telemetry_latest l CROSS JOIN LATERAL (
    SELECT t.time, t.value, t.text_value FROM telemetry t
    WHERE t.edge_id = l.edge_id AND t.channel = l.channel AND t.time > l.time
    ORDER BY t.time DESC LIMIT 1
) h
WHERE l.edge_id = ANY($1::text[])
ORDER BY 1, 2
ON CONFLICT (edge_id, channel) DO UPDATE
SET time = excluded.time, value = excluded.value, text_value = excluded.text_value
WHERE excluded.time > telemetry_latest.time"""
_DEDUPE_HOLD_S = 60.0

_EPOCH = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
_BUCKET_SQL = {
    # Both align buckets to the epoch; time_bucket's default origin (2000-01-03) would not.
    StorageMode.TIMESCALEDB: f"time_bucket($5::interval, time, {_EPOCH})",
    StorageMode.PARTITIONED: f"date_bin($5::interval, time, {_EPOCH})",
}
_BUCKET_PRE14 = (  # date_bin arrived in PostgreSQL 14
    "to_timestamp(floor(extract(epoch FROM time) / extract(epoch FROM $5::interval))"
    " * extract(epoch FROM $5::interval))"
)
_HISTORY = """SELECT channel, {bucket} AS bucket, avg(value), min(value), max(value),
    (array_agg(text_value ORDER BY time DESC) FILTER (WHERE text_value IS NOT NULL))[1]
FROM telemetry
WHERE edge_id = $1 AND channel = ANY($2::text[]) AND time >= $3 AND time < $4
GROUP BY channel, bucket
ORDER BY channel, bucket"""

# The one rollup query for reports, in both modes: ``telemetry_rollup`` is the
# cloud-maintained table, or on a hypertable a view over the continuous aggregates
# whose ``bucket`` timestamp lets the range reach their time index.
_ROLLUPS = """SELECT channel, bucket_s, n, sum_w, sum_in_w, sum_out_w, min_w, max_w
FROM telemetry_rollup
WHERE edge_id = $1 AND channel = ANY($2::text[]) AND width_s = $3
AND bucket_s >= $4 AND bucket_s < $5{bucket_range}
ORDER BY channel, bucket_s"""
_BUCKET_RANGE = {
    StorageMode.TIMESCALEDB: "\nAND bucket >= to_timestamp($4) AND bucket < to_timestamp($5)",
    StorageMode.PARTITIONED: "",
}

_PARTITION_CHECK_EVERY_S = 3600.0


class PostgresTelemetryStore:
    """A :class:`~ems.cloud.telemetry.model.TelemetryStore` in PostgreSQL at ``dsn``.

    ``pool_size`` bounds the connections (writes use as many as the batcher
    writes at once; the rest serve history and latest-value reads).
    """

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 4,
        command_timeout_s: float = 60.0,
        latest_every_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if latest_every_s < 0:
            raise ValueError(f"latest_every_s must be >= 0, not {latest_every_s!r}")
        self._latest_every_s = latest_every_s
        self._clock = clock
        #: edge -> clock() from which its next batch upserts its latest values
        self._latest_due: dict[str, float] = {}
        #: edge with rows in history newer than its latest values -> clock() of that batch
        self._latest_behind: dict[str, float] = {}
        self._catch_up = BackgroundLoop("telemetry-latest-catch-up", self._catch_up_loop)
        self._dsn = dsn
        self._pool_size = pool_size
        self._command_timeout_s = command_timeout_s
        self._pool: asyncpg.Pool | None = None
        self._mode: StorageMode | None = None
        self._history_sql = ""
        self._rollups_sql = ""
        #: (dedupe, latest values of some edges only) -> the merge statement
        self._merges: dict[tuple[bool, bool], str] = {}
        self._partitions_checked_at = 0.0  # time.monotonic() of the last look-ahead
        self._dedupe_until = 0.0  # time.monotonic() until which writes use ON CONFLICT

    @property
    def mode(self) -> StorageMode:
        """TimescaleDB hypertable or native partitions (known after :meth:`start`)."""
        if self._mode is None:
            raise RuntimeError("telemetry store not started")
        return self._mode

    async def start(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                command_timeout=self._command_timeout_s,
                init=_init_connection,
            )
        async with self._pool.acquire() as conn:
            self._mode = await pg_schema.ensure_schema(conn)
            bucket = _BUCKET_SQL[self._mode]
            if self._mode is StorageMode.PARTITIONED and conn.get_server_version().major < 14:
                bucket = _BUCKET_PRE14
            self._history_sql = _HISTORY.format(bucket=bucket)
            self._rollups_sql = _ROLLUPS.format(bucket_range=_BUCKET_RANGE[self._mode])
            cloud_rollups = self._mode is StorageMode.PARTITIONED
            self._merges = {
                (dedupe, some): merge_sql(rollups=cloud_rollups, dedupe=dedupe, latest_of_some=some)
                for dedupe in (False, True)
                for some in (False, True)
            }
        self._partitions_checked_at = time.monotonic()
        if self._latest_every_s > 0 and not self._catch_up.running:
            self._catch_up.start()

    async def close(self) -> None:
        await self._catch_up.stop()
        if self._pool is not None:
            with contextlib.suppress(Exception):  # best effort: history has it all
                await self.catch_up_latest(everyone=True)
            pool, self._pool = self._pool, None
            await pool.close()

    async def write(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        pool = self._require_pool()
        plan = self._latest_plan(rows)
        async with pool.acquire() as conn:
            await self._look_ahead(conn)
            made_partitions = False
            while True:  # at most three attempts: see the two handlers
                dedupe = time.monotonic() < self._dedupe_until
                try:
                    latest_of = None if plan is None else plan[0]
                    await _write_batch(
                        conn, rows, self._merges[dedupe, plan is not None], latest_of
                    )
                    self._latest_written(plan)
                    break
                except asyncpg.UniqueViolationError:
                    if dedupe:  # cannot happen with ON CONFLICT; never loop on it
                        raise
                    self._dedupe_until = time.monotonic() + _DEDUPE_HOLD_S
                except asyncpg.CheckViolationError:
                    # "no partition of relation telemetry found for row" (matched by
                    # SQLSTATE, not by the translatable text): make the batch's days,
                    # unless another process just did, and try once more. Any other
                    # check violation then simply fails again.
                    if self._mode is not StorageMode.PARTITIONED or made_partitions:
                        raise
                    made_partitions = True
                    days = pg_schema.days_of(r[0] for r in rows)
                    await pg_schema.ensure_partitions(conn, days)
            if self._mode is StorageMode.TIMESCALEDB:
                # Committed rows behind an aggregate's watermark: bring their hours up
                # to date now rather than at the policy's next run.
                window = continuous.late_window(rows, time.time())
                if window is not None:
                    await self._refresh(conn, window)

    async def latest(
        self, edge_id: str, channels: Sequence[str] | None = None
    ) -> dict[str, LatestValue]:
        sql = "SELECT channel, time, value, text_value FROM telemetry_latest WHERE edge_id = $1"
        args: list[object] = [edge_id]
        if channels is not None:
            sql += " AND channel = ANY($2::text[])"
            args.append(list(channels))
        records = await self._require_pool().fetch(sql, *args)
        return {
            r["channel"]: LatestValue(r["time"].timestamp(), r["value"], r["text_value"])
            for r in records
        }

    async def history(
        self,
        edge_id: str,
        channels: Sequence[str],
        start_s: float,
        end_s: float,
        max_points: int = 500,
    ) -> dict[str, list[HistoryPoint]]:
        width = bucket_width_s(start_s, end_s, max_points)
        wanted = list(dict.fromkeys(channels))
        result: dict[str, list[HistoryPoint]] = {ch: [] for ch in wanted}
        if end_s <= start_s or not wanted:
            return result
        records = await self._require_pool().fetch(
            self._history_sql,
            edge_id,
            wanted,
            _utc(start_s),
            _utc(end_s),
            timedelta(seconds=width),
        )
        for channel, bucket, avg, low, high, last_text in records:
            result[channel].append(HistoryPoint(bucket.timestamp(), avg, low, high, last_text))
        return result

    async def edges(self) -> list[str]:
        records = await self._require_pool().fetch(
            "SELECT DISTINCT edge_id FROM telemetry_latest ORDER BY edge_id"
        )
        return [r["edge_id"] for r in records]

    async def rollups(
        self, edge_id: str, channels: Sequence[str], width_s: int, start_s: float, end_s: float
    ) -> dict[str, list[RollupPoint]]:
        check_width(width_s)
        wanted = list(dict.fromkeys(channels))
        result: dict[str, list[RollupPoint]] = {ch: [] for ch in wanted}
        records = await self._require_pool().fetch(
            self._rollups_sql,
            edge_id,
            wanted,
            width_s,
            math.ceil(start_s),
            math.ceil(end_s),
        )
        for channel, bucket, n, s, s_in, s_out, lo, hi in records:
            result[channel].append(
                RollupPoint.from_sums(bucket, width_s, n, s, s_in, s_out, lo, hi)
            )
        return result

    async def catch_up_latest(self, *, everyone: bool = False) -> int:
        """Bring up to history the latest values of edges behind that sent nothing for
        ``latest_every_s`` (silent or gone; ``everyone``: of every edge behind).

        A streaming edge is never caught up here: its next due batch does it.
        Returns how many edges were caught up.
        """
        now = self._clock()
        edges = {
            edge: skipped_at
            for edge, skipped_at in self._latest_behind.items()
            if everyone or skipped_at + self._latest_every_s <= now
        }
        # Edges silent for a while need no due time: their next batch is due anyway.
        for edge, due_at in list(self._latest_due.items()):
            if due_at + self._latest_every_s <= now:
                del self._latest_due[edge]
        if not edges:
            return 0
        await self._require_pool().execute(_CATCH_UP_LATEST, sorted(edges))
        for edge, skipped_at in edges.items():
            # Unless a batch of it was skipped meanwhile (then it is behind again).
            if self._latest_behind.get(edge) == skipped_at:
                del self._latest_behind[edge]
        return len(edges)

    async def _refresh(self, conn: asyncpg.Connection, window: tuple[int, int]) -> None:
        # The rows are committed: a refresh that fails must not fail the write (the
        # edge would resend what is stored). It is logged with the hours left stale;
        # the refresh policy catches up those within its three days.
        try:
            await continuous.refresh(conn, window)
        except (asyncpg.PostgresError, OSError) as exc:
            log.error(
                "late telemetry stored but not yet in the rollups",
                extra={"window_s": list(window), "error": str(exc)},
            )

    def _latest_plan(self, rows: Sequence[Row]) -> tuple[list[str], list[str]] | None:
        """(edges whose latest values this batch upserts, edges it skips); None: all."""
        if self._latest_every_s <= 0:
            return None
        now = self._clock()
        due: list[str] = []
        skipped: list[str] = []
        for edge in {r[1] for r in rows}:
            (due if self._latest_due.get(edge, now) <= now else skipped).append(edge)
        return due, skipped

    def _latest_written(self, plan: tuple[list[str], list[str]] | None) -> None:
        if plan is None:
            return
        due, skipped = plan
        now = self._clock()
        for edge in due:
            self._latest_due[edge] = now + self._latest_every_s
            self._latest_behind.pop(edge, None)
        for edge in skipped:
            self._latest_behind[edge] = now

    async def _catch_up_loop(self) -> None:
        while True:
            await asyncio.sleep(self._latest_every_s)
            try:
                await self.catch_up_latest()
            except Exception:  # the database away for a moment: next round
                log.warning("catching up latest telemetry values failed", exc_info=True)

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("telemetry store not started (or closed)")
        return self._pool

    async def _look_ahead(self, conn: asyncpg.Connection) -> None:
        """Hourly, make sure partitions exist up to the day after tomorrow (UTC).

        A long-running process would otherwise meet midnight without a
        partition and pay for making it inside a write.
        """
        now = time.monotonic()
        due = now >= self._partitions_checked_at + _PARTITION_CHECK_EVERY_S
        if self._mode is not StorageMode.PARTITIONED or not due:
            return
        self._partitions_checked_at = now
        today = datetime.now(UTC).date()
        wanted = {today + timedelta(days=d) for d in range(3)}
        if not wanted <= await pg_schema.existing_partition_days(conn):
            await pg_schema.ensure_partitions(conn, wanted)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.execute(_CREATE_STAGING)


async def _write_batch(
    conn: asyncpg.Connection, rows: Sequence[Row], merge: str, latest_of: list[str] | None
) -> None:
    """``merge`` from :func:`merge_sql`; ``latest_of``: the edges whose latest values it
    upserts (None: every edge's; then ``merge`` must not filter them)."""
    async with conn.transaction():
        await conn.copy_records_to_table(
            _STAGING, schema_name="pg_temp", records=rows, columns=_STAGING_COLUMNS
        )
        if latest_of is None:
            await conn.execute(merge)
        else:
            await conn.execute(merge, latest_of)


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)
