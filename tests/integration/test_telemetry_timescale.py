"""The PostgreSQL telemetry store on a server with TimescaleDB: the hypertable path.

TimescaleDB is in none of the package registries this project installs from,
so CI runs the native-partition path only (``test_telemetry_postgres.py``) and
this module skips there. On a machine with the extension built for the
installed PostgreSQL, it starts a throwaway server that preloads it and runs
the same store contract on the hypertable, plus its compression settings.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import pytest_asyncio

from ems.cloud.telemetry import PostgresTelemetryStore, TelemetryRow, pg_schema
from ems.cloud.telemetry.continuous import AGGREGATES
from ems.cloud.telemetry.pg_schema import StorageMode
from support.conformance.telemetry import CHECKS, T0, Check
from support.postgres import RunningPostgres, start_postgres, timescaledb_installed

pytestmark = pytest.mark.skipif(
    not timescaledb_installed(),
    reason="TimescaleDB is not installed for this PostgreSQL (CI tests native partitions)",
)


@pytest.fixture(scope="module")
def timescale_server() -> Iterator[RunningPostgres]:
    with start_postgres(settings={"shared_preload_libraries": "timescaledb"}) as server:
        yield server


@pytest_asyncio.fixture
async def timescale_dsn(timescale_server: RunningPostgres) -> AsyncIterator[str]:
    """A new database per test: the schema (and its continuous aggregates) from scratch."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(timescale_server.dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield timescale_server.dsn_for(name)
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest_asyncio.fixture
async def store(timescale_dsn: str) -> AsyncIterator[PostgresTelemetryStore]:
    s = PostgresTelemetryStore(timescale_dsn, pool_size=3)
    await s.start()
    yield s
    await s.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("check", CHECKS.values(), ids=list(CHECKS))
async def test_contract_on_the_hypertable(
    store: PostgresTelemetryStore, timescale_dsn: str, check: Check
) -> None:
    assert store.mode is StorageMode.TIMESCALEDB
    await check(store, lambda: PostgresTelemetryStore(timescale_dsn, pool_size=2))


@pytest.mark.asyncio
async def test_a_compressed_hypertable_by_edge_ordered_by_channel_and_time(
    store: PostgresTelemetryStore, timescale_dsn: str
) -> None:
    await store.write(
        [TelemetryRow(T0 + i, "edge-1", "grid/ActivePower", float(i), None) for i in range(10)]
    )
    conn = await asyncpg.connect(timescale_dsn)
    try:
        dimension = await conn.fetchrow(
            """SELECT column_name, time_interval FROM timescaledb_information.dimensions
            WHERE hypertable_name = 'telemetry'"""
        )
        assert dimension is not None and dimension["column_name"] == "time"
        assert dimension["time_interval"].days == 1
        settings = {
            r["attname"]: (r["segmentby_column_index"], r["orderby_column_index"])
            for r in await conn.fetch(
                """SELECT attname, segmentby_column_index, orderby_column_index
                FROM timescaledb_information.compression_settings
                WHERE hypertable_name = 'telemetry'"""
            )
        }
        assert settings["edge_id"][0] == 1  # segment by edge
        assert settings["channel"][1] == 1 and settings["time"][1] == 2  # order by channel, time
        jobs = await conn.fetchval(
            """SELECT count(*) FROM timescaledb_information.jobs
            WHERE hypertable_name = 'telemetry' AND proc_name = 'policy_compression'"""
        )
        assert jobs == 1
        # Compressing the chunk keeps every row readable through the store (the policy may
        # already have compressed it: T0 is more than seven days ago).
        await conn.execute(
            "SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('telemetry') c"
        )
    finally:
        await conn.close()
    latest = await store.latest("edge-1", ["grid/ActivePower"])
    assert latest["grid/ActivePower"].value == 9.0
    history = await store.history("edge-1", ["grid/ActivePower"], T0, T0 + 10, 100)
    assert [p.avg for p in history["grid/ActivePower"]] == [float(i) for i in range(10)]


@pytest.mark.asyncio
async def test_installed_but_not_preloaded_falls_back_to_partitions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Creating the extension then would end the session: the store looks first."""
    with start_postgres() as server:
        s = PostgresTelemetryStore(server.dsn, pool_size=2)
        await s.start()
        try:
            assert s.mode is StorageMode.PARTITIONED
            await s.write([TelemetryRow(T0, "edge-1", "grid/ActivePower", 1.0, None)])
            assert (await s.latest("edge-1"))["grid/ActivePower"].value == 1.0
        finally:
            await s.close()
    assert any("shared_preload_libraries" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_live_rows_are_in_the_rollups_before_any_refresh(
    store: PostgresTelemetryStore, timescale_dsn: str
) -> None:
    """Rows newer than the watermark are aggregated at query time (real-time aggregation)."""
    now_s = float(int(time.time()))
    quarter_s = now_s // 900 * 900
    rows = [
        TelemetryRow(t, "edge-1", "grid/ActivePower", 100.0, None)
        for t in range(int(quarter_s), int(now_s) + 1)
    ]
    await store.write(rows)
    (point,) = (await store.rollups("edge-1", ["grid/ActivePower"], 900, quarter_s, now_s + 1))[
        "grid/ActivePower"
    ]
    assert (point.bucket_s, point.n, point.mean_w) == (quarter_s, len(rows), 100.0)
    conn = await asyncpg.connect(timescale_dsn)
    try:  # nothing materialized: the live rows came from the hypertable
        assert await conn.fetchval(f"SELECT count(*) FROM {AGGREGATES[900]}") == 1
        materialized = await conn.fetchval(
            f"""SELECT count(*) FROM {AGGREGATES[900]}
            WHERE bucket < _timescaledb_functions.to_timestamp(
                _timescaledb_functions.cagg_watermark(
                    (SELECT mat_hypertable_id FROM _timescaledb_catalog.continuous_agg
                     WHERE user_view_name = $1)))""",
            AGGREGATES[900],
        )
        assert materialized == 0
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_history_from_before_the_aggregates_is_rolled_up_on_upgrade(
    timescale_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hypertable at schema version 2 (cloud-kept rollup table) gets the aggregates,
    filled from the history already stored."""
    steps = pg_schema.MIGRATIONS[StorageMode.TIMESCALEDB]
    monkeypatch.setitem(pg_schema.MIGRATIONS, StorageMode.TIMESCALEDB, steps[:2])
    old = PostgresTelemetryStore(timescale_dsn, pool_size=1)
    await old.start()
    await old.close()
    conn = await asyncpg.connect(timescale_dsn)
    try:
        await conn.execute(
            """INSERT INTO telemetry (time, edge_id, channel, value)
            SELECT to_timestamp($1 + s), 'edge-1', 'grid/ActivePower', s % 7
            FROM generate_series(0, 7199) AS s""",
            T0,
        )
    finally:
        await conn.close()
    monkeypatch.setitem(pg_schema.MIGRATIONS, StorageMode.TIMESCALEDB, steps)
    new = PostgresTelemetryStore(timescale_dsn, pool_size=1)
    await new.start()
    try:
        hours = (await new.rollups("edge-1", ["grid/ActivePower"], 3600, T0, T0 + 7200))[
            "grid/ActivePower"
        ]
    finally:
        await new.close()
    assert [(p.bucket_s, p.n) for p in hours] == [(T0, 3600), (T0 + 3600, 3600)]
    assert hours[0].mean_w == pytest.approx(sum(s % 7 for s in range(3600)) / 3600)


@pytest.mark.asyncio
async def test_concurrent_late_batches_all_reach_the_rollups(
    timescale_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Overlapping refreshes are refused by TimescaleDB, not queued: the store retries."""
    s = PostgresTelemetryStore(timescale_dsn, pool_size=4)
    await s.start()
    try:
        batches = [
            [TelemetryRow(T0 + i, f"edge-{e}", "grid/ActivePower", 1.0, None) for i in range(600)]
            for e in range(8)
        ]
        await asyncio.gather(*(s.write(b) for b in batches))
        quarters = await s.rollups("edge-3", ["grid/ActivePower"], 900, T0, T0 + 900)
        conn = await asyncpg.connect(timescale_dsn)
        try:  # materialized, not only visible through real-time aggregation
            schema, table = await conn.fetchrow(
                """SELECT materialization_hypertable_schema, materialization_hypertable_name
                FROM timescaledb_information.continuous_aggregates WHERE view_name = $1""",
                AGGREGATES[900],
            )
            materialized = await conn.fetchval(f'SELECT count(*) FROM "{schema}"."{table}"')
        finally:
            await conn.close()
    finally:
        await s.close()
    assert [p.n for p in quarters["grid/ActivePower"]] == [600]
    assert materialized == 8  # one quarter of each edge
    assert not [r for r in caplog.records if "not yet in the rollups" in r.getMessage()]
