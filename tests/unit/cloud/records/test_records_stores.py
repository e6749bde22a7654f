"""Both record copies on the embedded backends: SQLite (durable) and fakeredis (hot).

The same contract checks run against PostgreSQL and a real Redis in
``tests/integration/test_command_records.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as redis_async

from ems.cloud.records import SqliteCommandStore
from ems.cloud.shared import reset_embedded_server, shared_redis
from support.conformance.records import HOT_CHECKS, STORE_CHECKS, HotCheck, StoreCheck, change, info


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteCommandStore]:
    s = SqliteCommandStore(tmp_path / "commands.sqlite3")
    await s.start()
    yield s
    await s.close()


@pytest_asyncio.fixture
async def client() -> AsyncIterator[redis_async.Redis]:
    reset_embedded_server()
    c = shared_redis(None)
    yield c
    await c.aclose()
    reset_embedded_server()


@pytest.mark.asyncio
@pytest.mark.parametrize("check", STORE_CHECKS.values(), ids=list(STORE_CHECKS))
async def test_sqlite_contract(store: SqliteCommandStore, check: StoreCheck) -> None:
    await check(store, lambda: SqliteCommandStore(store.path))


@pytest.mark.asyncio
@pytest.mark.parametrize("check", HOT_CHECKS.values(), ids=list(HOT_CHECKS))
async def test_hot_contract(client: redis_async.Redis, check: HotCheck) -> None:
    await check(client)


@pytest.mark.asyncio
async def test_sqlite_schema_and_listing_index(store: SqliteCommandStore) -> None:
    await store.write([change(info(), "queued", 0.0)])
    with sqlite3.connect(store.path) as conn:
        assert conn.execute(
            "SELECT version FROM schema_version WHERE component = 'commands'"
        ).fetchall() == [(2,)]
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM commands WHERE edge_id = 'site-1' "
            "ORDER BY created_at DESC LIMIT 5"
        ).fetchall()
        assert "commands_edge_created" in str(plan)
    conn.close()


@pytest.mark.asyncio
async def test_sqlite_shares_a_file_with_telemetry(tmp_path: Path) -> None:
    """Both components keep their own row in one schema_version table."""
    from ems.cloud.telemetry import SqliteTelemetryStore

    path = tmp_path / "shared.sqlite3"
    telemetry, commands = SqliteTelemetryStore(path), SqliteCommandStore(path)
    await telemetry.start()
    await commands.start()
    await telemetry.close()
    await commands.close()
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT component, version FROM schema_version ORDER BY 1").fetchall()
    conn.close()
    assert rows == [("commands", 2), ("telemetry", 2)]  # telemetry 2: rollups


@pytest.mark.asyncio
async def test_a_newer_schema_is_refused(store: SqliteCommandStore) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'commands'")
    conn.close()
    again = SqliteCommandStore(store.path)
    with pytest.raises(RuntimeError, match="newer than this release"):
        await again.start()
    await again.close()


@pytest.mark.asyncio
async def test_a_version_1_file_gains_the_trace_and_keeps_its_records(tmp_path: Path) -> None:
    """The trace table is migration step 2: a file written by the release before it
    is upgraded in place at start, its records untouched."""
    from ems.cloud.records.sqlite import MIGRATIONS

    path = tmp_path / "old.sqlite3"

    class Release1(SqliteCommandStore):
        migrations = MIGRATIONS[:1]

    old = Release1(path)
    await old.start()
    command = info()
    await old.write([change(command, "queued", 0.0)])
    await old.close()
    new = SqliteCommandStore(path)
    await new.start()
    try:
        record = await new.get(command.command_id)
        assert record is not None and record.status == "queued"
        assert await new.get_trace(command.command_id) == []
    finally:
        await new.close()
