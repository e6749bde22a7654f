"""The embedded config store: a SQLite file served by one worker thread."""

from __future__ import annotations

from ems.cloud.configsync import store
from ems.cloud.configsync.store import ConfigStatus, ConfigVersion
from ems.cloud.migrations import sqlite_transaction
from ems.cloud.records.sql import render
from ems.cloud.sqlite_worker import SqliteWorker

__all__ = ["SQLITE_FILE", "SqliteConfigStore"]

SQLITE_FILE = "configs.sqlite3"

#: Schema steps; entry ``i`` upgrades version ``i`` to ``i + 1``. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE edge_configs (
            edge_id TEXT NOT NULL, version INTEGER NOT NULL, yaml TEXT NOT NULL,
            by_user TEXT NOT NULL, at REAL NOT NULL, comment TEXT, rollback_of INTEGER,
            status TEXT NOT NULL, reason TEXT, detail TEXT, status_at REAL NOT NULL,
            PRIMARY KEY (edge_id, version)
        ) WITHOUT ROWID""",
    ),
)

_NEXT = render(store.NEXT_VERSION, "qmark")
_INSERT = render(store.INSERT_VERSION, "qmark")
_SELECT = render(store.SELECT_VERSION, "qmark")
_HISTORY = render(store.SELECT_HISTORY, "qmark")
_UPDATE = render(store.UPDATE_STATUS, "qmark")


class SqliteConfigStore(SqliteWorker):
    component = "configs"
    migrations = MIGRATIONS

    async def add(
        self,
        edge_id: str,
        yaml_text: str,
        by: str,
        at_s: float,
        comment: str | None,
        rollback_of: int | None = None,
    ) -> ConfigVersion:
        return await self._run(self._add, edge_id, yaml_text, by, at_s, comment, rollback_of)

    async def get(self, edge_id: str, version: int) -> ConfigVersion | None:
        return await self._run(self._get, edge_id, version)

    async def history(self, edge_id: str, limit: int) -> list[ConfigVersion]:
        return await self._run(self._history, edge_id, limit)

    async def set_status(
        self,
        edge_id: str,
        version: int,
        status: ConfigStatus,
        reason: str | None,
        detail: str | None,
        at_s: float,
    ) -> None:
        await self._run(self._set_status, (edge_id, version, status, reason, detail, at_s))

    # -- on the worker thread -------------------------------------------------------
    def _add(
        self,
        edge_id: str,
        yaml_text: str,
        by: str,
        at_s: float,
        comment: str | None,
        rollback_of: int | None,
    ) -> ConfigVersion:
        conn = self._db()
        # IMMEDIATE: the write lock first, so no other process picks the same number.
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            (version,) = conn.execute(_NEXT, (edge_id,)).fetchone()
            conn.execute(_INSERT, (edge_id, version, yaml_text, by, at_s, comment, rollback_of))
        found = self._get(edge_id, int(version))
        assert found is not None
        return found

    def _get(self, edge_id: str, version: int) -> ConfigVersion | None:
        row = self._db().execute(_SELECT, (edge_id, version)).fetchone()
        return None if row is None else ConfigVersion.from_row(row)

    def _history(self, edge_id: str, limit: int) -> list[ConfigVersion]:
        rows = self._db().execute(_HISTORY, (edge_id, limit)).fetchall()
        return [ConfigVersion.from_row(r) for r in rows]

    def _set_status(self, values: tuple[object, ...]) -> None:
        conn = self._db()
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            conn.execute(_UPDATE, values)
