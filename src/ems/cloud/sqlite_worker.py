"""A SQLite file served by one dedicated worker thread, for the cloud's embedded stores.

SQLite connections are not shared between threads and SQLite allows one
writer at a time anyway, so each store runs all its database work on one
thread of its own; the event loop only awaits it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ems.cloud.migrations import migrate_sqlite, open_sqlite

__all__ = ["SqliteWorker"]

T = TypeVar("T")


class SqliteWorker:
    """Base of a store in the SQLite file at ``path`` with versioned ``migrations``."""

    component: str  # its name in schema_version
    migrations: Sequence[Sequence[str]]

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = path
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"ems-{self.component}-db"
        )
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def start(self) -> None:
        """Open the file and create or upgrade the schema (idempotent)."""
        await self._run(self._start)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        finally:
            self._executor.shutdown(wait=True)  # the worker is idle by now: returns at once

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError(f"{self.component} store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- on the worker thread -------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.component} store not started")
        return self._conn

    def _start(self) -> None:
        if self._conn is None:
            self._conn = open_sqlite(self.path, self._busy_timeout_ms)
        migrate_sqlite(self._db(), self.component, self.migrations, self.path)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
