"""The PostgreSQL telemetry store on a server with TimescaleDB: the hypertable path.

TimescaleDB is in none of the package registries this project installs from,
so CI runs the native-partition path only (``test_telemetry_postgres.py``) and
this module skips there. On a machine with the extension built for the
installed PostgreSQL, it starts a throwaway server that preloads it and runs
the same store contract on the hypertable, plus its compression settings.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import pytest_asyncio

from ems.cloud.telemetry import PostgresTelemetryStore, TelemetryRow
from ems.cloud.telemetry.pg_schema import StorageMode
from ems.cloud.telemetry.testing import CHECKS, T0, Check
from ems.testing.postgres import RunningPostgres, start_postgres, timescaledb_installed

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
