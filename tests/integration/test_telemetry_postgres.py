"""The PostgreSQL telemetry store against a real server (native partitions: no TimescaleDB here).

Each test gets a fresh database on the session's throwaway server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from ems.cloud.telemetry import PostgresTelemetryStore, TelemetryBatcher, TelemetryRow
from ems.cloud.telemetry.model import LatestValue
from ems.cloud.telemetry.pg_schema import StorageMode, existing_partition_days
from support.conformance.telemetry import CHECKS, T0, Check


@pytest.fixture
def pg_dsn(postgres_url: str) -> Iterator[str]:
    """A new, empty database on the session's server; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f"CREATE DATABASE {name}"))
    yield urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    asyncio.run(_admin(postgres_url, f"DROP DATABASE {name} WITH (FORCE)"))


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def store(pg_dsn: str) -> AsyncIterator[PostgresTelemetryStore]:
    s = PostgresTelemetryStore(pg_dsn, pool_size=3)
    await s.start()
    yield s
    await s.close()


@pytest_asyncio.fixture
async def db(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pg_dsn)
    yield conn
    await conn.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("check", CHECKS.values(), ids=list(CHECKS))
async def test_contract(store: PostgresTelemetryStore, pg_dsn: str, check: Check) -> None:
    await check(store, lambda: PostgresTelemetryStore(pg_dsn, pool_size=2))


@pytest.mark.asyncio
async def test_partitions_around_today_and_a_brin_index(
    store: PostgresTelemetryStore, db: asyncpg.Connection
) -> None:
    assert store.mode is StorageMode.PARTITIONED
    today = datetime.now(UTC).date()
    days = await existing_partition_days(db)
    assert {today + timedelta(days=d) for d in range(-1, 3)} <= days
    children = await db.fetchval(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'telemetry'::regclass"
    )
    assert children == len(days)
    assert not await db.fetchval(  # no DEFAULT partition to swallow rows
        """SELECT bool_or(pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT')
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'telemetry'::regclass"""
    )
    indexes = dict(
        await db.fetch(
            """SELECT c.relname, am.amname FROM pg_index x
            JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am am ON am.oid = c.relam
            WHERE x.indrelid = 'telemetry'::regclass"""
        )
    )
    assert indexes == {"telemetry_time_brin": "brin", "telemetry_key": "btree"}
    assert (
        await db.fetchval("SELECT version FROM schema_version WHERE component = 'telemetry'") == 2
    )


@pytest.mark.asyncio
async def test_a_write_into_a_day_without_partition_makes_it(
    store: PostgresTelemetryStore, db: asyncpg.Connection
) -> None:
    far = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp()
    assert date(2031, 3, 4) not in await existing_partition_days(db)
    rows = [
        TelemetryRow(far, "site-1", "grid/ActivePower", 1.0, None),
        TelemetryRow(far + 86_400, "site-1", "grid/ActivePower", 2.0, None),  # and the next day
    ]
    await store.write(rows)
    assert {date(2031, 3, 4), date(2031, 3, 5)} <= await existing_partition_days(db)
    assert await db.fetchval("SELECT count(*) FROM telemetry_p20310305") == 1
    await store.write(rows)  # again: partitions exist, duplicates ignored
    assert await db.fetchval("SELECT count(*) FROM telemetry") == 2


@pytest.mark.asyncio
async def test_a_real_constraint_violation_is_not_retried_forever(
    store: PostgresTelemetryStore, db: asyncpg.Connection
) -> None:
    await db.execute("ALTER TABLE telemetry ADD CONSTRAINT positive CHECK (value >= 0)")
    with pytest.raises(asyncpg.CheckViolationError):
        await store.write([TelemetryRow(T0, "site-1", "grid/ActivePower", -1.0, None)])
    assert await store.edges() == []  # all or nothing: the latest value is not in either


@pytest.mark.asyncio
async def test_partition_look_ahead_refills_missing_days(
    store: PostgresTelemetryStore, db: asyncpg.Connection
) -> None:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    await db.execute(f"DROP TABLE telemetry_p{tomorrow:%Y%m%d}")
    store._partitions_checked_at = float("-inf")  # as if an hour had passed
    await store.write([TelemetryRow(T0, "site-1", "grid/ActivePower", 1.0, None)])
    assert tomorrow in await existing_partition_days(db)


@pytest.mark.asyncio
async def test_concurrent_starts_are_safe(pg_dsn: str) -> None:
    stores = [PostgresTelemetryStore(pg_dsn, pool_size=1) for _ in range(4)]
    try:
        await asyncio.gather(*(s.start() for s in stores))
        await asyncio.gather(
            *(
                s.write([TelemetryRow(T0 + i, "site-1", "grid/ActivePower", float(i), None)])
                for i, s in enumerate(stores)
            )
        )
        latest = await stores[0].latest("site-1")
        assert latest["grid/ActivePower"].time_s == T0 + 3
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetch("SELECT component, version FROM schema_version") == [
            ("telemetry", 2)  # 2: rollups
        ]
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_history_uses_the_key_index(
    store: PostgresTelemetryStore, db: asyncpg.Connection
) -> None:
    await store.write(
        [TelemetryRow(T0 + i, f"site-{i % 50}", "grid/ActivePower", 1.0, None) for i in range(5000)]
    )
    await db.execute("ANALYZE telemetry")
    plan = "\n".join(
        r[0]
        for r in await db.fetch(
            "EXPLAIN " + store._history_sql,
            "site-1",
            ["grid/ActivePower"],
            datetime.fromtimestamp(T0, UTC),
            datetime.fromtimestamp(T0 + 3600, UTC),
            timedelta(seconds=10),
        )
    )
    assert "telemetry_p20260101_edge_id_channel_time_key" in plan, plan


@pytest.mark.asyncio
async def test_batcher_into_postgres(store: PostgresTelemetryStore) -> None:
    batcher = TelemetryBatcher(store, max_rows=100, max_delay_s=0.01)
    edges = [f"site-{i}" for i in range(30)]
    await asyncio.gather(
        *(
            batcher.submit(
                [TelemetryRow(T0 + t, e, "grid/ActivePower", float(t), None) for t in range(10)]
            )
            for e in edges
        )
    )
    await batcher.close()
    assert await store.edges() == sorted(edges)
    assert batcher.stats.rows_written == 300
    assert batcher.stats.batches_written >= 3  # 100-row batches


@pytest.mark.asyncio
async def test_duplicates_fall_back_to_on_conflict_for_a_while(
    store: PostgresTelemetryStore, db: asyncpg.Connection
) -> None:
    row = TelemetryRow(T0, "site-1", "grid/ActivePower", 1.0, None)
    other = TelemetryRow(T0 + 1, "site-1", "grid/ActivePower", 2.0, None)
    await store.write([row, row, other])  # a duplicate within the very first batch
    assert store._dedupe_until > 0  # the plain insert was refused, ON CONFLICT took over
    assert await db.fetchval("SELECT count(*) FROM telemetry") == 2
    store._dedupe_until = 0.0  # the hold is over: back to the plain insert
    await store.write([TelemetryRow(T0 + 2, "site-1", "grid/ActivePower", 3.0, None)])
    assert store._dedupe_until == 0.0
    await store.write([other])
    assert await db.fetchval("SELECT count(*) FROM telemetry") == 3
    assert (await store.latest("site-1"))["grid/ActivePower"].value == 3.0


@pytest.mark.asyncio
async def test_upgrade_rolls_up_history_stored_before_rollups(
    store: PostgresTelemetryStore, db: asyncpg.Connection, pg_dsn: str
) -> None:
    grid = "_sum/GridActivePower"
    await store.write(
        [TelemetryRow(T0 + i, "site-1", grid, 100.0 * (i % 3 - 1), None) for i in range(1800)]
    )
    await db.execute("DROP TABLE telemetry_rollup")  # back to the schema before rollups
    await db.execute("UPDATE schema_version SET version = 1 WHERE component = 'telemetry'")
    again = PostgresTelemetryStore(pg_dsn, pool_size=1)
    await again.start()
    try:
        quarters = (await again.rollups("site-1", [grid], 900, T0, T0 + 1800))[grid]
    finally:
        await again.close()
    assert [(q.bucket_s, q.n, q.min_w, q.max_w) for q in quarters] == [
        (T0, 900, -100.0, 100.0),
        (T0 + 900, 900, -100.0, 100.0),
    ]
    assert quarters[0].energy_in_wh == pytest.approx(100.0 / 3 * 0.25)


class _Clock:
    """The store's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def _frame(edge: str, at_s: float, value: float) -> list[TelemetryRow]:
    return [
        TelemetryRow(at_s, edge, "battery_1/Soc", value, None),
        TelemetryRow(at_s, edge, "grid/ActivePower", -value, None),
    ]


@pytest.mark.asyncio
async def test_latest_values_are_upserted_at_most_every_latest_every_s_and_caught_up(
    pg_dsn: str, db: asyncpg.Connection
) -> None:
    clock = _Clock()
    store = PostgresTelemetryStore(pg_dsn, pool_size=2, latest_every_s=5.0, clock=clock)
    await store.start()
    try:
        await store.write(_frame("e1", T0, 1.0) + _frame("e2", T0, 1.0))  # first: due
        clock.now_s += 1
        await store.write(_frame("e1", T0 + 1, 2.0))  # within 5 s of the last: history only
        assert (await store.latest("e1"))["battery_1/Soc"].time_s == T0
        assert await db.fetchval("SELECT count(*) FROM telemetry WHERE edge_id = 'e1'") == 4
        assert await store.catch_up_latest() == 0  # it sent something within 5 s
        clock.now_s += 4
        await store.write(_frame("e1", T0 + 2, 3.0))  # due again: upserted
        assert (await store.latest("e1"))["battery_1/Soc"].value == 3.0
        clock.now_s += 1
        await store.write(_frame("e1", T0 + 3, 4.0))  # skipped; then e1 goes silent
        assert (await store.latest("e1"))["battery_1/Soc"].value == 3.0
        clock.now_s += 5
        assert await store.catch_up_latest() == 1  # overdue: from history
        assert await store.latest("e1") == {
            "battery_1/Soc": LatestValue(T0 + 3, 4.0, None),
            "grid/ActivePower": LatestValue(T0 + 3, -4.0, None),
        }
        assert await store.catch_up_latest() == 0
        assert (await store.latest("e2"))["battery_1/Soc"].time_s == T0  # untouched
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_a_streaming_edge_is_left_to_its_next_due_batch(pg_dsn: str) -> None:
    clock = _Clock()
    store = PostgresTelemetryStore(pg_dsn, pool_size=1, latest_every_s=5.0, clock=clock)
    await store.start()
    try:
        for second in range(12):  # one frame a second: due at 0, 5 and 10
            await store.write(_frame("e1", T0 + second, float(second)))
            assert await store.catch_up_latest() == 0
            clock.now_s += 1
        assert (await store.latest("e1"))["battery_1/Soc"].value == 10.0
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_closing_the_store_catches_up_every_edge_behind(pg_dsn: str) -> None:
    clock = _Clock()
    store = PostgresTelemetryStore(pg_dsn, pool_size=2, latest_every_s=5.0, clock=clock)
    await store.start()
    await store.write(_frame("e1", T0, 1.0))
    await store.write(_frame("e1", T0 + 1, 2.0))  # skipped, not yet overdue
    await store.close()
    again = PostgresTelemetryStore(pg_dsn, pool_size=1)
    await again.start()
    try:
        assert (await again.latest("e1"))["battery_1/Soc"] == LatestValue(T0 + 1, 2.0, None)
    finally:
        await again.close()


def test_a_negative_latest_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="latest_every_s"):
        PostgresTelemetryStore("postgresql://unused", latest_every_s=-1.0)
