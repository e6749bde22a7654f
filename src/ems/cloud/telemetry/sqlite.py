"""The embedded telemetry store: one SQLite file, no server to install.

All database work runs on one dedicated worker thread (SQLite connections are
not shared between threads, and one writer at a time is what SQLite allows
anyway), so the event loop never blocks on disk. WAL mode lets readers run
beside the writer; ``synchronous=NORMAL`` makes a committed write survive a
crash of the process, though not necessarily a power cut (the last commits
may be lost then), which is the usual embedded trade-off.

Schema (times are REAL UTC epoch seconds)::

    telemetry(edge_id, channel, time, value, text_value)   PRIMARY KEY (edge_id, channel, time)
    telemetry_latest(edge_id, channel, time, value, text_value)   PRIMARY KEY (edge_id, channel)
    telemetry_rollup(edge_id, channel, width_s, bucket_s, n, sum_w, sum_in_w, sum_out_w,
                     min_w, max_w)   PRIMARY KEY (edge_id, channel, width_s, bucket_s)

The rollup (:mod:`ems.cloud.telemetry.rollup`) is updated in the write's
transaction from the rows the history actually took (``RETURNING`` of the
insert, so duplicates add nothing).

Both are ``WITHOUT ROWID`` tables, so the key is the clustered index that every
history query walks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TypeVar

from ems.cloud.migrations import sqlite_transaction
from ems.cloud.sqlite_worker import SqliteWorker
from ems.cloud.telemetry.buckets import bucket_width_s, merge_points
from ems.cloud.telemetry.model import HistoryPoint, LatestValue, Row
from ems.cloud.telemetry.rollup import POWER_SUFFIX, RollupPoint, aggregate, check_width

__all__ = ["SqliteTelemetryStore"]

T = TypeVar("T")

# floor(time / w) * w for any sign, without relying on SQLite's optional math functions.
_FLOOR = "(CAST(time / {w} AS INTEGER) - (time < CAST(time / {w} AS INTEGER) * {w})) * {w}"

COMPONENT = "telemetry"

#: Schema steps; entry ``i`` upgrades version ``i`` to ``i + 1``. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE telemetry (
            edge_id TEXT NOT NULL, channel TEXT NOT NULL, time REAL NOT NULL,
            value REAL, text_value TEXT,
            PRIMARY KEY (edge_id, channel, time)
        ) WITHOUT ROWID""",
        # Text samples are rare (modes, states): a small partial index lets the
        # "last text per bucket" query skip the numeric rows entirely. The query
        # names it (INDEXED BY): without statistics the planner takes the key.
        """CREATE INDEX telemetry_text ON telemetry (edge_id, channel, time)
            WHERE text_value IS NOT NULL""",
        """CREATE TABLE telemetry_latest (
            edge_id TEXT NOT NULL, channel TEXT NOT NULL, time REAL NOT NULL,
            value REAL, text_value TEXT,
            PRIMARY KEY (edge_id, channel)
        ) WITHOUT ROWID""",
    ),
    (
        """CREATE TABLE telemetry_rollup (
            edge_id TEXT NOT NULL, channel TEXT NOT NULL, width_s INTEGER NOT NULL,
            bucket_s INTEGER NOT NULL, n INTEGER NOT NULL, sum_w REAL NOT NULL,
            sum_in_w REAL NOT NULL, sum_out_w REAL NOT NULL, min_w REAL NOT NULL,
            max_w REAL NOT NULL,
            PRIMARY KEY (edge_id, channel, width_s, bucket_s)
        ) WITHOUT ROWID""",
        # History stored before rollups existed is rolled up once, here.
        f"""INSERT INTO telemetry_rollup
            SELECT edge_id, channel, w.width_s, {_FLOOR.format(w="w.width_s")} AS bucket,
                count(*), sum(value), sum(max(value, 0)), sum(max(-value, 0)),
                min(value), max(value)
            FROM telemetry, (SELECT 900 AS width_s UNION ALL SELECT 3600) AS w
            WHERE value IS NOT NULL AND channel LIKE '%{POWER_SUFFIX}'
            GROUP BY edge_id, channel, w.width_s, bucket""",
    ),
)

_STAGING = """CREATE TEMP TABLE IF NOT EXISTS telemetry_staging (
    time REAL, edge_id TEXT, channel TEXT, value REAL, text_value TEXT)"""
_STAGE = """INSERT INTO telemetry_staging (time, edge_id, channel, value, text_value)
    VALUES (?, ?, ?, ?, ?)"""
# "WHERE true" tells SQLite's parser that ON CONFLICT belongs to the INSERT. RETURNING
# gives only the rows inserted, not those the key refused.
_INSERT = """INSERT INTO telemetry (time, edge_id, channel, value, text_value)
    SELECT time, edge_id, channel, value, text_value FROM telemetry_staging WHERE true
    ON CONFLICT DO NOTHING RETURNING time, edge_id, channel, value"""
_ADD_ROLLUP = """INSERT INTO telemetry_rollup
    (edge_id, channel, width_s, bucket_s, n, sum_w, sum_in_w, sum_out_w, min_w, max_w)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (edge_id, channel, width_s, bucket_s) DO UPDATE SET
    n = n + excluded.n, sum_w = sum_w + excluded.sum_w,
    sum_in_w = sum_in_w + excluded.sum_in_w, sum_out_w = sum_out_w + excluded.sum_out_w,
    min_w = min(min_w, excluded.min_w), max_w = max(max_w, excluded.max_w)"""
_READ_ROLLUP = """SELECT channel, bucket_s, n, sum_w, sum_in_w, sum_out_w, min_w, max_w
    FROM telemetry_rollup
    WHERE edge_id = :edge AND channel IN (SELECT value FROM json_each(:channels))
    AND width_s = :w AND bucket_s >= :start AND bucket_s < :end
    ORDER BY channel, bucket_s"""
_UPSERT_LATEST = """INSERT INTO telemetry_latest (time, edge_id, channel, value, text_value)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (edge_id, channel) DO UPDATE
    SET time = excluded.time, value = excluded.value, text_value = excluded.text_value
    WHERE excluded.time > telemetry_latest.time"""
_BUCKET = _FLOOR.format(w=":w")
_RANGE = """edge_id = :edge AND channel IN (SELECT value FROM json_each(:channels))
    AND time >= :start AND time < :end"""
_HISTORY_NUMERIC = f"""SELECT channel, {_BUCKET} AS bucket, avg(value), min(value), max(value)
    FROM telemetry WHERE {_RANGE}
    GROUP BY channel, bucket HAVING count(value) > 0"""
# SQLite documents that a bare column next to max() comes from the row holding the maximum.
_HISTORY_TEXT = f"""SELECT channel, {_BUCKET} AS bucket, text_value, max(time)
    FROM telemetry INDEXED BY telemetry_text WHERE {_RANGE} AND text_value IS NOT NULL
    GROUP BY channel, bucket"""


class SqliteTelemetryStore(SqliteWorker):
    """A :class:`~ems.cloud.telemetry.model.TelemetryStore` in the SQLite file at ``path``."""

    component = COMPONENT
    migrations = MIGRATIONS

    async def write(self, rows: Sequence[Row]) -> None:
        if rows:
            await self._run(self._write, rows)

    async def latest(
        self, edge_id: str, channels: Sequence[str] | None = None
    ) -> dict[str, LatestValue]:
        return await self._run(self._latest, edge_id, channels)

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
        if end_s <= start_s or not wanted:
            return {ch: [] for ch in wanted}
        return await self._run(self._history, edge_id, wanted, start_s, end_s, width)

    async def edges(self) -> list[str]:
        return await self._run(self._edges)

    async def rollups(
        self, edge_id: str, channels: Sequence[str], width_s: int, start_s: float, end_s: float
    ) -> dict[str, list[RollupPoint]]:
        check_width(width_s)
        wanted = list(dict.fromkeys(channels))
        return await self._run(self._rollups, edge_id, wanted, width_s, start_s, end_s)

    # -- on the worker thread -------------------------------------------------------
    def _write(self, rows: Sequence[Row]) -> None:
        newest: dict[tuple[str, str], Row] = {}
        for row in rows:  # by position: rows may be plain tuples (model.Row)
            key = (row[1], row[2])
            known = newest.get(key)
            if known is None or row[0] > known[0]:  # first of equals wins, as in history
                newest[key] = row
        conn = self._db()
        conn.execute(_STAGING)
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            conn.execute("DELETE FROM telemetry_staging")
            # A row is already a (time, edge_id, channel, value, text) tuple.
            conn.executemany(_STAGE, rows)
            inserted = conn.execute(_INSERT).fetchall()
            conn.executemany(_UPSERT_LATEST, newest.values())
            conn.executemany(_ADD_ROLLUP, aggregate(inserted))

    def _latest(self, edge_id: str, channels: Sequence[str] | None) -> dict[str, LatestValue]:
        sql = "SELECT channel, time, value, text_value FROM telemetry_latest WHERE edge_id = ?"
        params: tuple[str, ...] = (edge_id,)
        if channels is not None:
            sql += " AND channel IN (SELECT value FROM json_each(?))"
            params += (json.dumps(list(channels)),)
        return {
            channel: LatestValue(t, value, text)
            for channel, t, value, text in self._db().execute(sql, params)
        }

    def _history(
        self, edge_id: str, channels: list[str], start_s: float, end_s: float, width: int
    ) -> dict[str, list[HistoryPoint]]:
        params = {
            "edge": edge_id,
            "channels": json.dumps(channels),
            "start": start_s,
            "end": end_s,
            "w": width,
        }
        conn = self._db()
        with sqlite_transaction(conn, "BEGIN"):  # one snapshot for both queries
            numeric = conn.execute(_HISTORY_NUMERIC, params).fetchall()
            text = [row[:3] for row in conn.execute(_HISTORY_TEXT, params)]
        return merge_points(
            ((ch, float(b), avg, lo, hi) for ch, b, avg, lo, hi in numeric),
            ((ch, float(b), last) for ch, b, last in text),
            channels,
        )

    def _rollups(
        self, edge_id: str, channels: list[str], width_s: int, start_s: float, end_s: float
    ) -> dict[str, list[RollupPoint]]:
        params = {
            "edge": edge_id,
            "channels": json.dumps(channels),
            "w": width_s,
            "start": start_s,
            "end": end_s,
        }
        result: dict[str, list[RollupPoint]] = {ch: [] for ch in channels}
        for channel, bucket, *sums in self._db().execute(_READ_ROLLUP, params):
            n, s, s_in, s_out, lo, hi = sums
            result[channel].append(
                RollupPoint.from_sums(bucket, width_s, n, s, s_in, s_out, lo, hi)
            )
        return result

    def _edges(self) -> list[str]:
        rows = self._db().execute("SELECT DISTINCT edge_id FROM telemetry_latest ORDER BY edge_id")
        return [edge_id for (edge_id,) in rows]
