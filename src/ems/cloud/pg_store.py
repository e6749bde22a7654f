"""What every small PostgreSQL store of the cloud shares: a little pool of its own, and
its schema component brought up to date at start under the shared advisory lock, so
processes starting at once migrate one after the other (:mod:`ems.cloud.migrations`)."""

from __future__ import annotations

from typing import ClassVar

import asyncpg

from ems.cloud.migrations import Steps, migrate_postgres, postgres_version
from ems.cloud.telemetry.pg_schema import SCHEMA_LOCK_KEY

__all__ = ["PostgresComponentStore"]


class PostgresComponentStore:
    """Subclasses name their ``component`` in ``schema_version``, its ``migrations``, and
    ``what`` they hold (for the error when used before :meth:`start` or after :meth:`close`)."""

    component: ClassVar[str]
    migrations: ClassVar[Steps]
    what: ClassVar[str]

    def __init__(self, dsn: str, *, pool_size: int = 2) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        """Open the pool and migrate the schema. Idempotent; call on every start."""
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=self._pool_size, command_timeout=30.0
            )
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
            current = await postgres_version(conn, self.component)
            await migrate_postgres(conn, self.component, self.migrations, current)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.what} store not started (or closed)")
        return self._pool
