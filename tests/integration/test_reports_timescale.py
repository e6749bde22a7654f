"""Reports on the TimescaleDB path: continuous aggregates give the plain path's figures.

The same two days of a site's totals (60 s samples around the spring DST change)
are written through ``PostgresTelemetryStore`` into a plain PostgreSQL (rollup
table kept by the cloud) and into one that preloads TimescaleDB (hypertable,
continuous aggregates). Every figure of the reports must agree; a backfilled
gap must change the TimescaleDB report as it changes the plain one; and after
the cloud and the database restart, the aggregates are still materialized and
give the same report. Skips where TimescaleDB is not installed (CI).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import pytest_asyncio

from ems.cloud.telemetry import PostgresTelemetryStore, TelemetryRow
from ems.cloud.telemetry.continuous import AGGREGATES
from ems.cloud.telemetry.pg_schema import StorageMode
from ems.reports import Period, ReportSite, SiteEntry, build_report
from ems.tariff import TariffConfig
from support.postgres import RunningPostgres, start_postgres, timescaledb_installed

pytestmark = pytest.mark.skipif(
    not timescaledb_installed(),
    reason="TimescaleDB is not installed for this PostgreSQL (CI tests native partitions)",
)

BERLIN = ZoneInfo("Europe/Berlin")
START_S = dt.datetime(2026, 3, 28, tzinfo=BERLIN).timestamp()
END_S = dt.datetime(2026, 3, 30, tzinfo=BERLIN).timestamp()
STEP_S = 60
GAP = (  # two hours the edge sends late, after a reconnect
    dt.datetime(2026, 3, 29, 10, tzinfo=BERLIN).timestamp(),
    dt.datetime(2026, 3, 29, 12, tzinfo=BERLIN).timestamp(),
)


def sample(t: float) -> dict[str, float]:
    """A house: PV by day, a base load with an evening peak, a battery that charges at
    noon and discharges in the evening, the grid as the balance."""
    hour = dt.datetime.fromtimestamp(t, BERLIN).hour + (t % 3600) / 3600
    pv = max(0.0, 4000 * math.sin(math.pi * (hour - 7) / 12)) if 7 <= hour <= 19 else 0.0
    load = 400 + 300 * math.sin(t / 977) ** 2 + (1800 if 18 <= hour < 21 else 0)
    ess = -1500.0 if 11 <= hour < 14 else (1200.0 if 18 <= hour < 22 else 0.0)
    return {
        "_sum/ProductionActivePower": pv,
        "_sum/ConsumptionActivePower": load,
        "_sum/EssActivePower": ess,
        "_sum/GridActivePower": load - pv - ess,
    }


def batches(late: bool) -> list[list[TelemetryRow]]:
    """Hour-long batches of the on-time samples, or of the gap's."""
    hours: dict[int, list[TelemetryRow]] = {}
    for i in range(int((END_S - START_S) // STEP_S)):
        t = START_S + i * STEP_S
        if (GAP[0] <= t < GAP[1]) != late:
            continue
        rows = hours.setdefault(int(t // 3600), [])
        rows += [TelemetryRow(t, "site-1", ch, v, None) for ch, v in sample(t).items()]
    return list(hours.values())


SITE = ReportSite.build(
    "site-1",
    SiteEntry(
        timezone="Europe/Berlin",
        tariff=TariffConfig.model_validate(
            {
                "currency": "EUR",
                "import": {"price_per_kwh": 0.3},
                "export": {"price_per_kwh": 0.08},
                "demand_charge_per_kw_month": 9.5,
            }
        ),
        carbon={"g_per_kwh": 380},  # type: ignore[arg-type]
    ),
    ".",
)
PERIODS = [
    Period.of("day", dt.date(2026, 3, 29), BERLIN),  # 23 hours
    Period.of("week", dt.date(2026, 3, 28), BERLIN),
]


def numbers(value: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a report's data by its path."""
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in numbers(item, f"{path}.{key}").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in numbers(item, f"{path}[{i}]").items()
        }
    return {path: value}


def assert_same(timescale: dict[str, Any], plain: dict[str, Any]) -> None:
    a, b = numbers(timescale), numbers(plain)
    assert a.keys() == b.keys()
    for key, value in a.items():
        if isinstance(value, float):
            assert value == pytest.approx(b[key], rel=1e-9, abs=1e-9), key
        else:
            assert value == b[key], key


async def reports(dsn: str) -> list[dict[str, Any]]:
    store = PostgresTelemetryStore(dsn, pool_size=2)
    await store.start()
    try:
        return [(await build_report(store, "site-1", p, SITE)).data for p in PERIODS]
    finally:
        await store.close()


async def write(dsn: str, frames: list[list[TelemetryRow]]) -> StorageMode:
    store = PostgresTelemetryStore(dsn, pool_size=2)
    await store.start()
    try:
        for rows in frames:
            await store.write(rows)
        return store.mode
    finally:
        await store.close()


@pytest.fixture(scope="module")
def timescale_server() -> Iterator[RunningPostgres]:
    with start_postgres(settings={"shared_preload_libraries": "timescaledb"}) as server:
        yield server


async def _database(admin_dsn: str) -> tuple[str, str]:
    name = f"r_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return name, urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}"))


async def _drop(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def dsns(
    timescale_server: RunningPostgres, postgres_url: str
) -> AsyncIterator[tuple[str, str]]:
    """(TimescaleDB, plain PostgreSQL) databases, empty."""
    ts_name, ts_dsn = await _database(timescale_server.dsn)
    plain_name, plain_dsn = await _database(postgres_url)
    yield ts_dsn, plain_dsn
    await _drop(timescale_server.dsn, ts_name)
    await _drop(postgres_url, plain_name)


async def materialized_rows(dsn: str) -> dict[int, int]:
    """Rows each continuous aggregate holds materialized (not computed at query time)."""
    conn = await asyncpg.connect(dsn)
    try:
        out = {}
        for width, name in AGGREGATES.items():
            schema, table = await conn.fetchrow(
                """SELECT materialization_hypertable_schema, materialization_hypertable_name
                FROM timescaledb_information.continuous_aggregates WHERE view_name = $1""",
                name,
            )
            out[width] = await conn.fetchval(f'SELECT count(*) FROM "{schema}"."{table}"')
        return out
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_continuous_aggregates_give_the_plain_reports_and_follow_backfill(
    dsns: tuple[str, str], timescale_server: RunningPostgres
) -> None:
    ts_dsn, plain_dsn = dsns
    on_time, late = batches(late=False), batches(late=True)
    assert await write(ts_dsn, on_time) is StorageMode.TIMESCALEDB
    assert await write(plain_dsn, on_time) is StorageMode.PARTITIONED
    ts_before, plain_before = await reports(ts_dsn), await reports(plain_dsn)
    for ts, plain in zip(ts_before, plain_before, strict=True):
        assert_same(ts, plain)
    assert ts_before[0]["period"]["hours"] == 23
    assert ts_before[0]["period"]["coverage_pct"] == pytest.approx(100 * (92 - 8) / 92)
    # Materialized past the gap: the backfill lands behind the watermark, where
    # real-time aggregation does not look; only the store's refresh brings it in.
    quarters = int((END_S - START_S) // 900)
    assert await materialized_rows(ts_dsn) == {
        900: 4 * (quarters - 8),
        3600: 4 * (quarters // 4 - 2),
    }

    await write(ts_dsn, late)  # the edge's buffer, backfilled after a reconnect
    await write(plain_dsn, late)
    ts_after, plain_after = await reports(ts_dsn), await reports(plain_dsn)
    for ts, plain in zip(ts_after, plain_after, strict=True):
        assert_same(ts, plain)
    day_before, day_after = ts_before[0], ts_after[0]
    assert day_after["period"]["coverage_pct"] == 100.0
    # the gap was 10:00-12:00, when the PV makes about 7 kWh
    gained = day_after["energy"]["production_kwh"] - day_before["energy"]["production_kwh"]
    assert gained > 6.0

    # The cloud and the database restart: the aggregates are materialized, not
    # recomputed from the hypertable at query time, and read the same.
    before_restart = await materialized_rows(ts_dsn)
    assert before_restart == {900: 4 * quarters, 3600: 4 * quarters // 4}
    timescale_server.pause()
    timescale_server.resume()
    assert await materialized_rows(ts_dsn) == before_restart
    for ts, plain in zip(await reports(ts_dsn), plain_after, strict=True):
        assert_same(ts, plain)
