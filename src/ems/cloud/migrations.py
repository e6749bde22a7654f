"""Versioned schema steps shared by the cloud's stores (telemetry, command records).

Every component keeps its version in one ``schema_version(component, version,
updated_at)`` table and lists its steps as a tuple: entry ``i`` upgrades
version ``i`` to ``i + 1``; steps are appended, never edited. The callers hold
a lock while migrating (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory
lock), so two processes starting at once migrate one after the other.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Steps", "migrate_postgres", "migrate_sqlite", "open_sqlite", "sqlite_transaction"]

#: Schema steps of one component.
Steps = Sequence[Sequence[str]]


def open_sqlite(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection in autocommit mode (callers BEGIN/COMMIT), WAL, ``synchronous=NORMAL``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


@contextlib.contextmanager
def sqlite_transaction(conn: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[None]:
    """BEGIN … COMMIT, or ROLLBACK when the block raises (the connection is in autocommit)."""
    conn.execute(begin)
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _check(component: str, current: int, steps: Steps, where: str) -> None:
    if current > len(steps):
        raise RuntimeError(
            f"{where}{component} schema version {current} is newer than this release "
            f"understands ({len(steps)})"
        )


def migrate_sqlite(conn: sqlite3.Connection, component: str, steps: Steps, path: Path) -> None:
    """Apply the steps ``component`` lacks, under SQLite's write lock."""
    # IMMEDIATE takes the write lock up front, so two processes starting on the
    # same file apply the migrations one after the other.
    with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_version (
                component TEXT PRIMARY KEY, version INTEGER NOT NULL,
                updated_at REAL NOT NULL)"""
        )
        found = conn.execute(
            "SELECT version FROM schema_version WHERE component = ?", (component,)
        ).fetchone()
        current = 0 if found is None else int(found[0])
        _check(component, current, steps, f"{path}: ")
        for step in steps[current:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(
            """INSERT INTO schema_version (component, version, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (component) DO UPDATE
            SET version = excluded.version, updated_at = excluded.updated_at""",
            (component, len(steps), time.time()),
        )


async def postgres_version(conn: Any, component: str) -> int:
    """The component's schema version (0: none yet); creates the version table if needed.

    Call it inside the transaction that holds the advisory lock.
    """
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_version (
            component text PRIMARY KEY,
            version integer NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now())"""
    )
    current = await conn.fetchval(
        "SELECT version FROM schema_version WHERE component = $1", component
    )
    return int(current or 0)


async def migrate_postgres(conn: Any, component: str, steps: Steps, current: int) -> None:
    """Apply the steps after ``current`` (from :func:`postgres_version`), lock held."""
    _check(component, current, steps, "")
    for step in steps[current:]:
        for statement in step:
            await conn.execute(statement)
    await conn.execute(
        """INSERT INTO schema_version (component, version) VALUES ($1, $2)
        ON CONFLICT (component) DO UPDATE SET version = $2, updated_at = now()""",
        component,
        len(steps),
    )
