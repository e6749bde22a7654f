"""Reports and rollups on a throwaway PostgreSQL (DESIGN 11 and 15): what keeping rollups
costs at ingest, and how long a monthly report from rollups takes.

Starts its own PostgreSQL (``tests/support``, loopback, fsync off) and prints one
JSON object. It makes no claim about budgets: on a shared machine the figures
are only comparable within one run.

- **Ingest**: ``--rows`` telemetry rows (frames of ``--channels`` channels at
  1 Hz from ``--edges`` edges, ``--power-channels`` of them power channels that
  are rolled up) written by ``PostgresTelemetryStore.write`` in
  ``--batch-rows`` batches, once with the rollups (the store as shipped) and once
  into a second database whose store runs the merge without the rollup insert
  (the store as it was before rollups). ``rollup_overhead_pct`` is the
  difference in values/s, relative to the version without rollups.
- **Monthly report**: ``--raw-days`` of 1 s data for one site's four totals are
  generated in the database (``generate_series``, then rolled up by the same
  statement the migration uses), or only their rollups with ``--raw-days 0``
  and ``--rollup-days`` of them; then the energy report of one month is built
  ``--repeat`` times from the rollups (``build_report``: one query, then Python)
  and its p50 / max wall time printed. A year of 1 s raw data (``--raw-days
  365``, about 31.5 million rows per channel) takes hours to generate here; the
  report reads only rollups, so its time does not depend on the raw rows.

    .venv/bin/python bench/reports.py [--rows 500000] [--channels 50] [--power-channels 5]
        [--edges 100] [--batch-rows 5000] [--raw-days 1] [--rollup-days 365] [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from ems.cloud.telemetry import PostgresTelemetryStore, TelemetryRow, pg_schema
from ems.cloud.telemetry import postgres as pg_store
from ems.reports import Period, ReportSite, SiteEntry, build_report
from ems.tariff import TariffConfig
from support.postgres import start_postgres

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
SITE_CHANNELS = (
    "_sum/GridActivePower",
    "_sum/ProductionActivePower",
    "_sum/EssActivePower",
    "_sum/ConsumptionActivePower",
)
# The merge as it was before rollups: history and latest values only.
_MERGE_WITHOUT_ROLLUP = pg_store._MERGES[False, False].split("\n)\nINSERT INTO telemetry_rollup")[0]
_MERGE_WITHOUT_ROLLUP = _MERGE_WITHOUT_ROLLUP.replace("), latest AS (\n", ")\n").replace(
    "    RETURNING time, edge_id, channel, value\n", ""
)


def make_rows(count: int, edges: int, channels: int, power: int) -> list[TelemetryRow]:
    names = [f"dev_{i}/ActivePower" for i in range(power)]
    names += [f"dev_{i}/Value" for i in range(channels - power)]
    rows: list[TelemetryRow] = []
    second = 0
    while len(rows) < count:
        for e in range(edges):
            for i, name in enumerate(names):
                rows.append(
                    TelemetryRow(T0 + second, f"edge-{e}", name, float((second + i) % 997), None)
                )
        second += 1
    return rows[:count]


async def ingest(dsn: str, rows: list[TelemetryRow], batch: int, *, rollups: bool) -> float:
    store = PostgresTelemetryStore(dsn, pool_size=2)
    await store.start()
    saved = pg_store._MERGES[False, False]
    if not rollups:
        pg_store._MERGES[False, False] = _MERGE_WITHOUT_ROLLUP
    try:
        began = time.perf_counter()
        for i in range(0, len(rows), batch):
            await store.write(rows[i : i + batch])
        return len(rows) / (time.perf_counter() - began)
    finally:
        pg_store._MERGES[False, False] = saved
        await store.close()


async def load_site(dsn: str, raw_days: int, rollup_days: int) -> None:
    """Raw 1 s rows for ``raw_days`` and rollups for ``rollup_days`` of one site's totals."""
    store = PostgresTelemetryStore(dsn, pool_size=1)
    await store.start()  # schema and today's partitions
    await store.close()
    conn = await asyncpg.connect(dsn)
    try:
        start = dt.datetime.fromtimestamp(T0, dt.UTC)
        if raw_days:
            days = [start.date() + dt.timedelta(days=d) for d in range(raw_days)]
            await pg_schema.ensure_partitions(conn, days)
            for d in range(raw_days):
                for channel in SITE_CHANNELS:
                    await conn.execute(
                        """INSERT INTO telemetry (time, edge_id, channel, value)
                        SELECT $1::timestamptz + make_interval(secs => s), 'site-1', $2,
                            1000 * sin(s / 3000.0) + 200
                        FROM generate_series(0, 86399) AS s""",
                        start + dt.timedelta(days=d),
                        channel,
                    )
            await conn.execute(pg_schema._ROLLUP_V2[1])  # the migration's roll-up of history
        # Rollups for the rest of the span, as ingest would have left them.
        await conn.execute(
            """INSERT INTO telemetry_rollup
            SELECT 'site-1', ch, w, b, w, w * 200.0, w * 700.0, w * 500.0, -800, 1200
            FROM unnest($1::text[]) AS ch, (VALUES (900), (3600)) AS x(w),
                generate_series($2::bigint, $3::bigint - 1, w) AS b
            ON CONFLICT DO NOTHING""",
            list(SITE_CHANNELS),
            int(T0),
            int(T0) + rollup_days * 86_400,
        )
    finally:
        await conn.close()


async def monthly_report(dsn: str, repeat: int) -> dict[str, Any]:
    tariff = TariffConfig.model_validate(
        {"currency": "EUR", "import": {"price_per_kwh": 0.3}, "demand_charge_per_kw_month": 9.5}
    )
    site = ReportSite.build(
        "site-1",
        SiteEntry(timezone="Europe/Berlin", tariff=tariff, carbon={"g_per_kwh": 380}),
        ".",  # type: ignore[arg-type]
    )
    period = Period.of("month", dt.date(2026, 3, 1), ZoneInfo("Europe/Berlin"))
    store = PostgresTelemetryStore(dsn, pool_size=1)
    await store.start()
    times: list[float] = []
    try:
        for _ in range(repeat):
            began = time.perf_counter()
            report = await build_report(store, "site-1", period, site)
            times.append(time.perf_counter() - began)
    finally:
        await store.close()
    conn = await asyncpg.connect(dsn)
    try:
        raw = await conn.fetchval("SELECT count(*) FROM telemetry")
        rollup_rows = await conn.fetchval("SELECT count(*) FROM telemetry_rollup")
    finally:
        await conn.close()
    return {
        "raw_rows": raw,
        "rollup_rows": rollup_rows,
        "coverage_pct": report.data["period"]["coverage_pct"],
        "report_s_p50": round(statistics.median(times), 4),
        "report_s_max": round(max(times), 4),
    }


async def run(args: argparse.Namespace, dsn: str) -> dict[str, Any]:
    def db(name: str) -> str:
        return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))

    admin = await asyncpg.connect(dsn)
    try:
        for name in ("with_rollups", "without_rollups", "site_year"):
            await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    rows = make_rows(args.rows, args.edges, args.channels, args.power_channels)
    without = await ingest(db("without_rollups"), rows, args.batch_rows, rollups=False)
    with_ = await ingest(db("with_rollups"), rows, args.batch_rows, rollups=True)
    await load_site(db("site_year"), args.raw_days, args.rollup_days)
    report = await monthly_report(db("site_year"), args.repeat)
    return {
        "ingest": {
            "rows": len(rows),
            "power_channel_share": args.power_channels / args.channels,
            "values_per_s_without_rollups": round(without),
            "values_per_s_with_rollups": round(with_),
            "rollup_overhead_pct": round(100 * (without - with_) / without, 1),
        },
        "monthly_report": report,
        "note": "one run on a shared machine: compare within the run, not with budgets",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--power-channels", type=int, default=5)
    parser.add_argument("--edges", type=int, default=100)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--raw-days", type=int, default=1)
    parser.add_argument("--rollup-days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if not 0 <= args.power_channels <= args.channels:
        parser.error("--power-channels must be between 0 and --channels")
    try:
        with start_postgres() as pg:
            result = asyncio.run(run(args, pg.dsn))
    except Exception as exc:  # a benchmark that could not run says why, as JSON
        print(json.dumps({"ok": False, "error": repr(exc)}))
        return 1
    print(json.dumps({"ok": True, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
