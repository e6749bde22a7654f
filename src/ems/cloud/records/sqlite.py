"""The embedded durable copy of the command records: one SQLite file, no server.

Built like the telemetry store (:mod:`ems.cloud.telemetry.sqlite`): all work on
one dedicated thread, WAL mode, ``synchronous=NORMAL``, and a
``schema_version(component, version)`` row (component ``commands``) that the
migrations below advance under ``BEGIN IMMEDIATE``, so processes starting on
the same file take turns. Times are REAL UTC epoch seconds, ``value`` is JSON
text, ``terminal`` is 0/1.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from ems.cloud.migrations import sqlite_transaction
from ems.cloud.records import sql
from ems.cloud.records.model import (
    CommandInfo,
    CommandRecord,
    StatusChange,
    StatusEvent,
    TraceEntry,
)
from ems.cloud.sqlite_worker import SqliteWorker

__all__ = ["SqliteCommandStore"]

T = TypeVar("T")

COMPONENT = "commands"

#: Schema steps; entry ``i`` upgrades version ``i`` to ``i + 1``. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE commands (
            command_id TEXT PRIMARY KEY, edge_id TEXT NOT NULL, username TEXT NOT NULL,
            device TEXT NOT NULL, action TEXT NOT NULL, value TEXT NOT NULL,
            issued_at REAL NOT NULL, ttl_s INTEGER NOT NULL, created_at REAL NOT NULL,
            status TEXT NOT NULL, reason TEXT, terminal INTEGER NOT NULL,
            updated_at REAL NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX commands_edge_created ON commands (edge_id, created_at)",
        """CREATE TABLE command_events (
            command_id TEXT NOT NULL REFERENCES commands (command_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT, detail TEXT,
            at REAL NOT NULL,
            PRIMARY KEY (command_id, seq),
            UNIQUE (command_id, status, at)
        ) WITHOUT ROWID""",
    ),
    (
        """CREATE TABLE command_trace (
            command_id TEXT NOT NULL, record_id TEXT NOT NULL, source TEXT NOT NULL,
            edge_id TEXT, event TEXT NOT NULL, status TEXT, reason TEXT, detail TEXT,
            at REAL NOT NULL, seq INTEGER NOT NULL,
            PRIMARY KEY (command_id, record_id)
        ) WITHOUT ROWID""",
    ),
)

_UPSERT = sql.render(sql.UPSERT_COMMAND, "qmark")
_INSERT_EVENT = sql.render(sql.INSERT_EVENT, "qmark")
_SELECT_COMMAND = sql.render(sql.SELECT_COMMAND, "qmark")
_SELECT_EVENTS = sql.render(sql.SELECT_EVENTS, "qmark")
_LIST = sql.render(sql.LIST_FOR_EDGE, "qmark")
_INSERT_TRACE = sql.render(sql.INSERT_TRACE, "qmark")
_SELECT_TRACE = sql.render(sql.SELECT_TRACE, "qmark")


class SqliteCommandStore(SqliteWorker):
    """A :class:`~ems.cloud.records.model.CommandStore` in the SQLite file at ``path``."""

    component = COMPONENT
    migrations = MIGRATIONS

    async def write(self, changes: Sequence[StatusChange]) -> None:
        if changes:
            await self._run(self._write, changes)

    async def get(self, command_id: str) -> CommandRecord | None:
        return await self._run(self._get, command_id)

    async def write_trace(self, entries: Sequence[TraceEntry]) -> None:
        if entries:
            await self._run(self._write_trace, entries)

    async def get_trace(self, command_id: str) -> list[TraceEntry]:
        return await self._run(self._get_trace, command_id)

    async def list_for_edge(self, edge_id: str, limit: int) -> list[CommandRecord]:
        return await self._run(self._list, edge_id, limit)

    # -- on the worker thread -------------------------------------------------------
    def _write(self, changes: Sequence[StatusChange]) -> None:
        conn = self._db()
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            conn.executemany(_UPSERT, [_command_row(c) for c in changes])
            conn.executemany(_INSERT_EVENT, [_event_row(c) for c in changes])

    def _write_trace(self, entries: Sequence[TraceEntry]) -> None:
        conn = self._db()
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            conn.executemany(_INSERT_TRACE, [_trace_row(e) for e in entries])

    def _get_trace(self, command_id: str) -> list[TraceEntry]:
        rows = self._db().execute(_SELECT_TRACE, (command_id,)).fetchall()
        return [TraceEntry(*row) for row in rows]

    def _get(self, command_id: str) -> CommandRecord | None:
        conn = self._db()
        with sqlite_transaction(conn, "BEGIN"):  # one snapshot for both reads
            row = conn.execute(_SELECT_COMMAND, (command_id,)).fetchone()
            if row is None:
                return None
            events = conn.execute(_SELECT_EVENTS, (command_id,)).fetchall()
        return _record(row, tuple(StatusEvent(s, r, d, at) for s, r, d, at in events))

    def _list(self, edge_id: str, limit: int) -> list[CommandRecord]:
        rows = self._db().execute(_LIST, (edge_id, limit)).fetchall()
        return [_record(row, ()) for row in rows]


def _command_row(change: StatusChange) -> tuple[object, ...]:
    c, e = change.command, change.event
    return (
        c.command_id,
        c.edge_id,
        c.user,
        c.device,
        c.action,
        json.dumps(c.value),
        c.issued_at,
        c.ttl_s,
        c.created_at,
        e.status,
        e.reason,
        int(e.terminal),
        e.at,
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
        e.at,
        e.seq,
    )


def _event_row(change: StatusChange) -> tuple[object, ...]:
    e = change.event
    return (change.command.command_id, e.status, e.reason, e.detail, e.at)


def _record(row: Sequence[Any], history: tuple[StatusEvent, ...]) -> CommandRecord:
    (cid, edge, user, device, action, value, issued, ttl, created, status, reason, final, at) = row
    info = CommandInfo(cid, edge, user, device, action, json.loads(value), issued, ttl, created)
    return CommandRecord(info, status, reason, bool(final), at, history)
