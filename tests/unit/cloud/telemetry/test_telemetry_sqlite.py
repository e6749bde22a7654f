"""The embedded SQLite telemetry store: the shared store contract plus SQLite specifics."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ems.cloud.telemetry import SqliteTelemetryStore, TelemetryRow
from support.conformance.telemetry import CHECKS, T0, Check


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTelemetryStore]:
    s = SqliteTelemetryStore(tmp_path / "telemetry.db")
    await s.start()
    yield s
    await s.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("check", CHECKS.values(), ids=list(CHECKS))
async def test_contract(store: SqliteTelemetryStore, check: Check) -> None:
    await check(store, lambda: SqliteTelemetryStore(store.path))


@pytest.mark.asyncio
async def test_file_settings_and_schema(store: SqliteTelemetryStore) -> None:
    await store.write([TelemetryRow(T0, "site-1", "grid/ActivePower", 1.0, None)])
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute(
            "SELECT version FROM schema_version WHERE component = 'telemetry'"
        ).fetchall() == [(2,)]  # 2: rollups
        # history walks the clustered key (edge_id, channel, time)
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT avg(value) FROM telemetry "
            "WHERE edge_id = 'a' AND channel = 'b' AND time >= 0 AND time < 1"
        ).fetchall()
        assert "PRIMARY KEY (edge_id=? AND channel=? AND time>? AND time<?)" in str(plan)
    conn.close()


@pytest.mark.asyncio
async def test_work_runs_on_one_worker_thread(
    store: SqliteTelemetryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: set[str] = set()
    original = store._write

    def spy(rows: list[TelemetryRow]) -> None:
        seen.add(threading.current_thread().name)
        original(rows)

    monkeypatch.setattr(store, "_write", spy)
    for i in range(3):
        await store.write([TelemetryRow(T0 + i, "site-1", "grid/ActivePower", 1.0, None)])
    assert len(seen) == 1
    assert next(iter(seen)).startswith("ems-telemetry-db")


@pytest.mark.asyncio
async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL,"
            " updated_at REAL NOT NULL)"
        )
        conn.execute("INSERT INTO schema_version VALUES ('telemetry', 99, 0)")
    conn.close()
    s = SqliteTelemetryStore(path)
    with pytest.raises(RuntimeError, match="newer than this release"):
        await s.start()
    await s.close()


@pytest.mark.asyncio
async def test_failed_write_changes_nothing(store: SqliteTelemetryStore) -> None:
    good = TelemetryRow(T0, "site-1", "grid/ActivePower", 1.0, None)
    bad = TelemetryRow(T0 + 1, "site-1", None, 2.0, None)  # type: ignore[arg-type]  # NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        await store.write([good, bad])
    assert await store.edges() == []


@pytest.mark.asyncio
async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    s = SqliteTelemetryStore(tmp_path / "t.db")
    with pytest.raises(RuntimeError, match="not started"):
        await s.latest("site-1")
    await s.start()
    await s.close()
    await s.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await s.write([TelemetryRow(T0, "site-1", "grid/ActivePower", 1.0, None)])


@pytest.mark.asyncio
async def test_upgrade_rolls_up_history_stored_before_rollups(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    s = SqliteTelemetryStore(path)
    await s.start()
    grid = "_sum/GridActivePower"
    await s.write(
        [TelemetryRow(T0 + i, "site-1", grid, 100.0 * (i % 3 - 1), None) for i in range(1800)]
    )
    await s.close()
    with sqlite3.connect(path) as conn:  # back to the schema before rollups
        conn.execute("DROP TABLE telemetry_rollup")
        conn.execute("UPDATE schema_version SET version = 1 WHERE component = 'telemetry'")
    conn.close()
    again = SqliteTelemetryStore(path)
    await again.start()
    try:
        quarters = (await again.rollups("site-1", [grid], 900, T0, T0 + 1800))[grid]
        hours = (await again.rollups("site-1", [grid], 3600, T0, T0 + 3600))[grid]
    finally:
        await again.close()
    assert [(q.bucket_s, q.n, q.min_w, q.max_w) for q in quarters] == [
        (T0, 900, -100.0, 100.0),
        (T0 + 900, 900, -100.0, 100.0),
    ]
    assert quarters[0].energy_in_wh == pytest.approx(100.0 / 3 * 0.25)
    assert quarters[0].energy_out_wh == pytest.approx(100.0 / 3 * 0.25)
    assert [h.n for h in hours] == [1800]
