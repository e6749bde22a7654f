"""The production durable copy of the command records: PostgreSQL through asyncpg.

The tables live next to telemetry (same ``EMS_DATABASE_URL``). The schema is
made the way telemetry's is (:mod:`ems.cloud.telemetry.pg_schema`): on every
start, in one transaction holding the same advisory lock
(``SCHEMA_LOCK_KEY``), versioned in the shared ``schema_version`` table under
the component ``commands``, so several cloud processes may start at once.

A write is one transaction: the command rows are upserted first, in
command-id order (this locks them, in an order every writer shares, so two
processes writing the same commands wait for each other instead of
deadlocking), then the events are appended. Both rules are in
:mod:`ems.cloud.records.sql`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ems.cloud.migrations import migrate_postgres, postgres_version
from ems.cloud.records import sql
from ems.cloud.records.model import (
    CommandInfo,
    CommandRecord,
    StatusChange,
    StatusEvent,
    TraceEntry,
)
from ems.cloud.telemetry.pg_schema import SCHEMA_LOCK_KEY

__all__ = ["PostgresCommandStore", "ensure_schema"]

COMPONENT = "commands"

# Ids are ASCII (protocol patterns): byte order ("C") is cheaper and the same everywhere.
_V1 = (
    """CREATE TABLE commands (
        command_id text COLLATE "C" PRIMARY KEY,
        edge_id text COLLATE "C" NOT NULL,
        username text NOT NULL,
        device text COLLATE "C" NOT NULL,
        action text COLLATE "C" NOT NULL,
        value jsonb NOT NULL,
        issued_at timestamptz NOT NULL,
        ttl_s integer NOT NULL,
        created_at timestamptz NOT NULL,
        status text NOT NULL,
        reason text,
        terminal boolean NOT NULL,
        updated_at timestamptz NOT NULL)""",
    "CREATE INDEX commands_edge_created ON commands (edge_id, created_at)",
    """CREATE TABLE command_events (
        command_id text COLLATE "C" NOT NULL REFERENCES commands ON DELETE CASCADE,
        seq integer NOT NULL,
        status text NOT NULL,
        reason text,
        detail text,
        at timestamptz NOT NULL,
        PRIMARY KEY (command_id, seq),
        UNIQUE (command_id, status, at))""",
)

# The audit trace of each command, cloud and edge waypoints (no foreign key:
# a waypoint may arrive before another process wrote the command's row).
_V2 = (
    """CREATE TABLE command_trace (
        command_id text COLLATE "C" NOT NULL,
        record_id text COLLATE "C" NOT NULL,
        source text NOT NULL,
        edge_id text COLLATE "C",
        event text NOT NULL,
        status text,
        reason text,
        detail text,
        at timestamptz NOT NULL,
        seq bigint NOT NULL,
        PRIMARY KEY (command_id, record_id))""",
)

#: Schema steps; entry ``i`` upgrades version ``i`` to ``i + 1``. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2)

# value: asyncpg takes and returns jsonb as JSON text.
_UPSERT = sql.render(sql.UPSERT_COMMAND, "dollar")
_INSERT_EVENT = sql.render(sql.INSERT_EVENT, "dollar")
_SELECT_COMMAND = sql.render(sql.SELECT_COMMAND, "dollar")
_SELECT_EVENTS = sql.render(sql.SELECT_EVENTS, "dollar")
_LIST = sql.render(sql.LIST_FOR_EDGE, "dollar")
_INSERT_TRACE = sql.render(sql.INSERT_TRACE, "dollar")
_SELECT_TRACE = sql.render(sql.SELECT_TRACE, "dollar")


async def ensure_schema(conn: asyncpg.Connection) -> None:
    """Create or upgrade the command tables. ``conn`` is outside any transaction."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
        current = await postgres_version(conn, COMPONENT)
        await migrate_postgres(conn, COMPONENT, MIGRATIONS, current)


class PostgresCommandStore:
    """A :class:`~ems.cloud.records.model.CommandStore` in PostgreSQL at ``dsn``."""

    def __init__(self, dsn: str, *, pool_size: int = 2, command_timeout_s: float = 30.0) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._command_timeout_s = command_timeout_s
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                command_timeout=self._command_timeout_s,
            )
        async with self._pool.acquire() as conn:
            await ensure_schema(conn)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def write(self, changes: Sequence[StatusChange]) -> None:
        if not changes:
            return
        # sorted() is stable: one command's changes keep their order.
        locking_order = sorted(changes, key=lambda c: c.command.command_id)
        async with self._require_pool().acquire() as conn, conn.transaction():
            await conn.executemany(_UPSERT, [_command_row(c) for c in locking_order])
            await conn.executemany(_INSERT_EVENT, [_event_row(c) for c in changes])

    async def get(self, command_id: str) -> CommandRecord | None:
        async with self._require_pool().acquire() as conn, conn.transaction(readonly=True):
            row = await conn.fetchrow(_SELECT_COMMAND, command_id)
            if row is None:
                return None
            events = await conn.fetch(_SELECT_EVENTS, command_id)
        history = tuple(StatusEvent(s, r, d, at.timestamp()) for s, r, d, at in events)
        return _record(row, history)

    async def write_trace(self, entries: Sequence[TraceEntry]) -> None:
        if entries:
            # One statement, atomic by itself (asyncpg >= 0.22): no BEGIN and COMMIT
            # round trips around it.
            await self._require_pool().executemany(_INSERT_TRACE, [_trace_row(e) for e in entries])

    async def get_trace(self, command_id: str) -> list[TraceEntry]:
        rows = await self._require_pool().fetch(_SELECT_TRACE, command_id)
        return [
            TraceEntry(cid, rid, src, edge, event, status, reason, detail, at.timestamp(), seq)
            for cid, rid, src, edge, event, status, reason, detail, at, seq in rows
        ]

    async def list_for_edge(self, edge_id: str, limit: int) -> list[CommandRecord]:
        rows = await self._require_pool().fetch(_LIST, edge_id, limit)
        return [_record(row, ()) for row in rows]

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("command store not started (or closed)")
        return self._pool


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _command_row(change: StatusChange) -> tuple[object, ...]:
    c, e = change.command, change.event
    return (
        c.command_id,
        c.edge_id,
        c.user,
        c.device,
        c.action,
        json.dumps(c.value),
        _utc(c.issued_at),
        c.ttl_s,
        _utc(c.created_at),
        e.status,
        e.reason,
        e.terminal,
        _utc(e.at),
    )


def _trace_row(e: TraceEntry) -> tuple[object, ...]:
    return (
        e.command_id,
        e.record_id,
        e.source,
        e.edge_id,
        e.event,
        e.status,
        e.reason,
        e.detail,
        _utc(e.at),
        e.seq,
    )


def _event_row(change: StatusChange) -> tuple[object, ...]:
    e = change.event
    return (change.command.command_id, e.status, e.reason, e.detail, _utc(e.at))


def _record(row: Sequence[Any], history: tuple[StatusEvent, ...]) -> CommandRecord:
    (cid, edge, user, device, action, value, issued, ttl, created, status, reason, final, at) = row
    info = CommandInfo(
        cid,
        edge,
        user,
        device,
        action,
        json.loads(value),
        issued.timestamp(),
        ttl,
        created.timestamp(),
    )
    return CommandRecord(info, status, reason, final, at.timestamp(), history)
