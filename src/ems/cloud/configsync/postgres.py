"""The production config store: PostgreSQL through asyncpg, beside the command records."""

from __future__ import annotations

import asyncpg

from ems.cloud.configsync import store
from ems.cloud.configsync.store import ConfigStatus, ConfigVersion
from ems.cloud.pg_store import PostgresComponentStore
from ems.cloud.records.sql import render

__all__ = ["PostgresConfigStore"]

COMPONENT = "configs"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE edge_configs (
            edge_id text COLLATE "C" NOT NULL, version integer NOT NULL, yaml text NOT NULL,
            by_user text NOT NULL, at double precision NOT NULL, comment text,
            rollback_of integer, status text NOT NULL, reason text, detail text,
            status_at double precision NOT NULL,
            PRIMARY KEY (edge_id, version))""",
    ),
)

_NEXT = render(store.NEXT_VERSION, "dollar")
_INSERT = render(store.INSERT_VERSION, "dollar")
_SELECT = render(store.SELECT_VERSION, "dollar")
_HISTORY = render(store.SELECT_HISTORY, "dollar")
_UPDATE = render(store.UPDATE_STATUS, "dollar")
_ATTEMPTS = 5  # two writers raced for one version number: the loser tries the next


class PostgresConfigStore(PostgresComponentStore):
    component = COMPONENT
    migrations = MIGRATIONS
    what = "config"

    async def add(
        self,
        edge_id: str,
        yaml_text: str,
        by: str,
        at_s: float,
        comment: str | None,
        rollback_of: int | None = None,
    ) -> ConfigVersion:
        for attempt in range(_ATTEMPTS):
            try:
                async with self._require_pool().acquire() as conn, conn.transaction():
                    version = await conn.fetchval(_NEXT, edge_id)
                    await conn.execute(
                        _INSERT, edge_id, version, yaml_text, by, at_s, comment, rollback_of
                    )
                    row = await conn.fetchrow(_SELECT, edge_id, version)
                    return ConfigVersion.from_row(tuple(row))
            except asyncpg.UniqueViolationError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def get(self, edge_id: str, version: int) -> ConfigVersion | None:
        row = await self._require_pool().fetchrow(_SELECT, edge_id, version)
        return None if row is None else ConfigVersion.from_row(tuple(row))

    async def history(self, edge_id: str, limit: int) -> list[ConfigVersion]:
        rows = await self._require_pool().fetch(_HISTORY, edge_id, limit)
        return [ConfigVersion.from_row(tuple(r)) for r in rows]

    async def set_status(
        self,
        edge_id: str,
        version: int,
        status: ConfigStatus,
        reason: str | None,
        detail: str | None,
        at_s: float,
    ) -> None:
        await self._require_pool().execute(_UPDATE, edge_id, version, status, reason, detail, at_s)
