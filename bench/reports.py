"""Reports and rollups on a throwaway PostgreSQL (DESIGN 11 and 15): a year of 1 s data,
the monthly report from its rollups, and what keeping rollups costs at ingest.

Starts its own PostgreSQL (``tests/support``, loopback, fsync off; with
``--timescale`` one that preloads TimescaleDB, so the telemetry table is a
hypertable and the rollups are continuous aggregates) and prints one JSON object.

- **Year**: ``--days`` (365) of one site's four totals at 1 Hz (``--days`` ×
  86,400 rows per channel, 31.5 million for a year) made with numpy (PV by
  season and time of day with passing clouds, a load with an evening peak, a
  battery charging at noon and discharging in the evening, the grid as the
  balance) and written by binary ``COPY`` straight into the cloud's ``telemetry``
  table (the store's schema: daily partitions, or the hypertable), one day per
  COPY. ``copy_rows_per_s``: rows over the COPY wall time.
- **Rollup build**: as the cloud rolls up history it did not ingest itself: the
  schema migration's ``INSERT … SELECT`` into the rollup table, or on the
  hypertable a refresh of the continuous aggregates (what their policies and
  the store's late-row refresh do). ``rollup_build_rows_per_s``: raw rows per
  second of that.
- **Monthly report**: ``build_report`` of March (a DST change, 743 hours) from
  the rollups, ``--repeat`` times: p50 and max wall time against DESIGN 15's
  1 s budget (the first run meets a cold cache after the load); and the p50 of
  its main read alone (the month's quarter hours of the four totals), the rest
  being Python (figures, and the anomaly model fitted on 59 days of hours).
- **Rollup maintenance at 100,000 values/s**: ``--ingest-s`` seconds of live
  telemetry from ``--edges`` edges × ``--channels`` channels at 1 Hz (defaults:
  2,000 × 50 = 100,000 values per second of data, ``--power-channels`` of each
  edge's channels rolled up) written through ``PostgresTelemetryStore.write`` in
  ``--batch-rows`` batches, paced to 100,000 values/s, into a database with the
  store as shipped and into one whose merge leaves the rollups out. The server's
  CPU time (postmaster and all its processes, from /proc) and the client's per
  value, for each; the rollups' cost is the difference, also as the share of a
  core it takes at 100,000 values/s. On the hypertable the merge never writes
  rollups: the baseline is the hypertable without continuous aggregates, and
  the cost includes the refresh of the ingested window (what the policy runs).

CPU times are meaningful on this shared machine; wall times (COPY rate, report
time) are as measured with other jobs running. The databases are dropped at the
end (the server and its directory too).

    .venv/bin/python bench/reports.py [--days 365] [--start 2026-01-01] [--repeat 20] [--timescale]
        [--ingest-s 10] [--edges 2000] [--channels 50] [--power-channels 5]
        [--batch-rows 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import statistics
import struct
import sys
import time
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import numpy as np

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from _services import cpu_s  # bench/
from ems.cloud.telemetry import PostgresTelemetryStore, TelemetryRow, continuous, pg_schema
from ems.cloud.telemetry import postgres as pg_store
from ems.cloud.telemetry.pg_schema import StorageMode
from ems.reports import Period, ReportSite, SiteEntry, build_report
from ems.tariff import TariffConfig
from support.postgres import RunningPostgres, start_postgres

BERLIN = ZoneInfo("Europe/Berlin")
SITE = "site-1"
SITE_CHANNELS = (
    "_sum/GridActivePower",
    "_sum/ProductionActivePower",
    "_sum/EssActivePower",
    "_sum/ConsumptionActivePower",
)
REPORT_BUDGET_S = 1.0  # DESIGN 15: a monthly report from rollups
INGEST_RATE = 100_000  # values/s, the ingest rate
DAY_S = 86_400
_PG_EPOCH_US = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)


# --- the year --------------------------------------------------------------------------


def site_day(day: dt.date, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One UTC day of the site's totals at 1 Hz [W]."""
    s = np.arange(DAY_S, dtype=np.float64)
    hour = (s / 3600.0 + 1.0) % 24.0  # local (CET) hour, near enough for a shape
    doy = day.timetuple().tm_yday
    season = 0.55 + 0.45 * math.sin(2 * math.pi * (doy - 80) / 365.0)  # June peak
    sun = np.clip(np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    # Clouds: a slow random walk of the clear-sky share, per minute, interpolated.
    minutes = np.clip(0.8 + np.cumsum(rng.normal(0, 0.04, 24 * 60 + 1)), 0.15, 1.0)
    cloud = np.interp(s / 60.0, np.arange(minutes.size), minutes)
    pv = 6000.0 * season * sun * cloud
    load = 350.0 + 150.0 * rng.random(DAY_S) + np.where((hour >= 18) & (hour < 21), 1800.0, 0.0)
    ess = np.where((hour >= 11) & (hour < 14), -2000.0 * season, 0.0)
    ess = np.where((hour >= 18) & (hour < 22), 1500.0, ess)
    return {
        "_sum/GridActivePower": load - pv - ess,
        "_sum/ProductionActivePower": pv,
        "_sum/EssActivePower": ess,
        "_sum/ConsumptionActivePower": load,
    }


def copy_rows(start_s: int, edge: str, channel: str, values: np.ndarray) -> bytes:
    """Binary COPY tuples (time, edge_id, channel, value) of 1 Hz ``values`` from
    ``start_s``: fixed-size records, since edge and channel are the same in each."""
    e, c = edge.encode(), channel.encode()
    record = np.dtype(
        [
            ("fields", ">i2"),
            ("time_len", ">i4"),
            ("time_us", ">i8"),
            ("edge_len", ">i4"),
            ("edge", f"S{len(e)}"),
            ("channel_len", ">i4"),
            ("channel", f"S{len(c)}"),
            ("value_len", ">i4"),
            ("value", ">f8"),
        ]
    )
    out = np.empty(values.size, dtype=record)
    out["fields"] = 4
    out["time_len"] = 8
    out["time_us"] = (start_s + np.arange(values.size, dtype=np.int64)) * 1_000_000 - _PG_EPOCH_US
    out["edge_len"], out["edge"] = len(e), e
    out["channel_len"], out["channel"] = len(c), c
    out["value_len"], out["value"] = 8, values
    return out.tobytes()


async def _one_day(day: dt.date, rng: np.random.Generator) -> AsyncIterator[bytes]:
    start_s = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())
    yield _COPY_HEADER
    for channel, values in site_day(day, rng).items():
        yield copy_rows(start_s, SITE, channel, values)
    yield _COPY_TRAILER


async def load_year(dsn: str, first: dt.date, days: int) -> dict[str, Any]:
    store = PostgresTelemetryStore(dsn, pool_size=1)
    await store.start()  # the cloud's schema
    mode = store.mode
    await store.close()
    conn = await asyncpg.connect(dsn, command_timeout=None)
    try:
        dates = [first + dt.timedelta(days=d) for d in range(days)]
        if mode is StorageMode.PARTITIONED:
            await pg_schema.ensure_partitions(conn, dates)
        rng = np.random.default_rng(2026)
        began = time.perf_counter()
        for day in dates:
            await conn.copy_to_table(
                "telemetry",
                source=_one_day(day, rng),
                columns=("time", "edge_id", "channel", "value"),
                format="binary",
            )
        copy_s = time.perf_counter() - began
        rows = days * DAY_S * len(SITE_CHANNELS)
        began = time.perf_counter()
        if mode is StorageMode.PARTITIONED:
            await conn.execute(pg_schema.MIGRATIONS[mode][1][1])  # the migration's roll-up
            await conn.execute("ANALYZE telemetry_rollup")
        else:
            end = dt.datetime.combine(dates[-1], dt.time(), dt.UTC).timestamp() + DAY_S
            await continuous.refresh(conn, (None, int(end)))
        rollup_s = time.perf_counter() - began
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return {
        "mode": mode.value,
        "first_day": first.isoformat(),
        "days": days,
        "rows_per_channel": days * DAY_S,
        "rows": rows,
        "copy_s": round(copy_s, 1),
        "copy_rows_per_s": round(rows / copy_s),
        "rollup_build_s": round(rollup_s, 1),
        "rollup_build_rows_per_s": round(rows / rollup_s),
        "database_gb": round(size / 1e9, 2),
    }


async def monthly_report(dsn: str, repeat: int) -> dict[str, Any]:
    tariff = TariffConfig.model_validate(
        {"currency": "EUR", "import": {"price_per_kwh": 0.3}, "demand_charge_per_kw_month": 9.5}
    )
    site = ReportSite.build(
        SITE,
        SiteEntry(timezone="Europe/Berlin", tariff=tariff, carbon={"g_per_kwh": 380}),  # type: ignore[arg-type]
        ".",
    )
    period = Period.of("month", dt.date(2026, 3, 1), BERLIN)
    store = PostgresTelemetryStore(dsn, pool_size=1)
    await store.start()
    times: list[float] = []
    query_times: list[float] = []
    try:
        for _ in range(repeat):
            began = time.perf_counter()
            report = await build_report(store, SITE, period, site)
            times.append(time.perf_counter() - began)
            # The report's main read alone: the month's quarter hours of the four totals.
            began = time.perf_counter()
            await store.rollups(SITE, SITE_CHANNELS, 900, period.start_s, period.end_s)
            query_times.append(time.perf_counter() - began)
    finally:
        await store.close()
    p50 = statistics.median(times)
    return {
        "period": "2026-03 Europe/Berlin",
        "hours": report.data["period"]["hours"],
        "coverage_pct": report.data["period"]["coverage_pct"],
        "production_kwh": report.data["energy"]["production_kwh"],
        "repeat": repeat,
        "report_s_p50": round(p50, 4),
        "report_s_max": round(max(times), 4),
        "quarter_rollups_query_s_p50": round(statistics.median(query_times), 4),
        "budget_s": REPORT_BUDGET_S,
        "pass": p50 <= REPORT_BUDGET_S,
    }


# --- maintenance at 100,000 values/s -----------------------------------------------------


def live_rows(seconds: int, edges: int, channels: int, power: int) -> list[list[TelemetryRow]]:
    """Per second of data, every edge's frame, from the start of the last whole hour: live
    for the store (not behind any watermark, so it refreshes nothing while writing), and in
    a complete hour bucket, which a refresh can materialize (not the current one)."""
    names = [f"dev_{i}/ActivePower" for i in range(power)]
    names += [f"dev_{i}/Value" for i in range(channels - power)]
    t0 = float(int(time.time()) // 3600 * 3600 - 3600)
    return [
        [
            TelemetryRow(t0 + s, f"edge-{e}", name, float((s + e + i) % 997), None)
            for e in range(edges)
            for i, name in enumerate(names)
        ]
        for s in range(seconds)
    ]


async def paced_ingest(
    server: RunningPostgres,
    dsn: str,
    seconds: list[list[TelemetryRow]],
    batch: int,
    *,
    rollups: bool,
) -> dict[str, Any]:
    """Write ``seconds`` of rows at :data:`INGEST_RATE` (or as fast as it goes, if slower)."""
    store = PostgresTelemetryStore(dsn, pool_size=2)
    await store.start()
    hypertable = store.mode is StorageMode.TIMESCALEDB
    if not rollups and hypertable:  # a hypertable without continuous aggregates
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("DROP VIEW telemetry_rollup")
            for name in continuous.AGGREGATES.values():
                await conn.execute(f"DROP MATERIALIZED VIEW {name}")
        finally:
            await conn.close()
    elif not rollups:  # the merge as it would be without rollups: history and latest only
        store._merges = {
            (dedupe, some): pg_store.merge_sql(rollups=False, dedupe=dedupe, latest_of_some=some)
            for dedupe in (False, True)
            for some in (False, True)
        }
    rows = [r for second in seconds for r in second]
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    try:
        server_cpu, client_cpu = cpu_s(postmaster, children=True), time.process_time()
        began = time.perf_counter()
        for i in range(0, len(rows), batch):
            due = began + i / INGEST_RATE
            if (ahead := due - time.perf_counter()) > 0:
                await asyncio.sleep(ahead)  # pacing the load, not synchronising a test
            await store.write(rows[i : i + batch])
        wall = time.perf_counter() - began
        server_cpu = cpu_s(postmaster, children=True) - server_cpu
        client_cpu = time.process_time() - client_cpu
        refresh_cpu = 0.0
        if rollups and hypertable:
            # What the refresh policy will do for this window, once materialized. Read
            # the CPU while the backend lives: an exited one no longer counts in /proc.
            lo = int(rows[0].time_s) // 3600 * 3600
            hi = (int(rows[-1].time_s) // 3600 + 1) * 3600  # the whole hour
            conn = await asyncpg.connect(dsn)
            try:
                before = cpu_s(postmaster, children=True)
                await continuous.refresh(conn, (lo, hi))
                refresh_cpu = cpu_s(postmaster, children=True) - before
            finally:
                await conn.close()
    finally:
        await store.close()
    n = len(rows)
    return {
        "values": n,
        "values_per_s": round(n / wall),
        "server_cpu_us_per_value": round(1e6 * server_cpu / n, 2),
        "client_cpu_us_per_value": round(1e6 * client_cpu / n, 2),
        "refresh_cpu_us_per_value": round(1e6 * refresh_cpu / n, 2),
    }


async def maintenance(server: RunningPostgres, args: argparse.Namespace) -> dict[str, Any]:
    seconds = live_rows(args.ingest_s, args.edges, args.channels, args.power_channels)
    await _create(server, "without_rollups", "with_rollups")
    without = await paced_ingest(
        server, server.dsn_for("without_rollups"), seconds, args.batch_rows, rollups=False
    )
    with_ = await paced_ingest(
        server, server.dsn_for("with_rollups"), seconds, args.batch_rows, rollups=True
    )
    await _drop(server, "without_rollups", "with_rollups")

    def total(r: dict[str, Any]) -> float:
        keys = ("server_cpu_us_per_value", "client_cpu_us_per_value", "refresh_cpu_us_per_value")
        return float(sum(r[k] for k in keys))

    cost_us = total(with_) - total(without)
    return {
        "target_values_per_s": INGEST_RATE,
        "values_per_second_of_data": args.edges * args.channels,
        "power_channel_share": args.power_channels / args.channels,
        "without_rollups": without,
        "with_rollups": with_,
        "rollup_cpu_us_per_value": round(cost_us, 2),
        "rollup_cores_at_100k_values_per_s": round(cost_us * INGEST_RATE / 1e6, 3),
        "rollup_cpu_overhead_pct": round(100 * cost_us / total(without), 1),
    }


# --- plumbing ------------------------------------------------------------------------------


async def _create(server: RunningPostgres, *names: str) -> None:
    admin = await asyncpg.connect(server.dsn)
    try:
        for name in names:
            await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()


async def _drop(server: RunningPostgres, *names: str) -> None:
    admin = await asyncpg.connect(server.dsn)
    try:
        for name in names:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


async def run(args: argparse.Namespace, server: RunningPostgres) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.days:
        await _create(server, "site_year")
        try:
            out["year"] = await load_year(server.dsn_for("site_year"), args.start, args.days)
            out["monthly_report"] = await monthly_report(server.dsn_for("site_year"), args.repeat)
        finally:
            await _drop(server, "site_year")
    if args.ingest_s:
        out["maintenance"] = await maintenance(server, args)
    out["note"] = "one run on a shared, loaded machine: CPU times per value are the stable figures"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365, help="days of 1 s data (0: none)")
    parser.add_argument(
        "--start", type=dt.date.fromisoformat, default=dt.date(2026, 1, 1), help="first day"
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--timescale", action="store_true", help="preload TimescaleDB")
    parser.add_argument("--ingest-s", type=int, default=10, help="seconds of data (0: skip)")
    parser.add_argument("--edges", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--power-channels", type=int, default=5)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    args = parser.parse_args()
    if not 0 <= args.power_channels <= args.channels:
        parser.error("--power-channels must be between 0 and --channels")
    if not 0 <= args.days <= 366:
        parser.error("--days must be between 0 and 366")
    settings = {"shared_preload_libraries": "timescaledb"} if args.timescale else {}
    try:
        with start_postgres(settings=settings) as pg:
            result = asyncio.run(run(args, pg))
    except Exception as exc:  # a benchmark that could not run says why, as JSON
        print(json.dumps({"ok": False, "error": repr(exc)}))
        return 1
    print(json.dumps({"ok": True, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
