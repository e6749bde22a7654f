"""PostgreSQL schema for telemetry: TimescaleDB hypertable, or native daily range partitions.

``ensure_schema`` runs on every start, inside one transaction holding an
advisory lock, so several cloud processes may start at once: the first applies
what is missing, the others find it done. Versions live in
``schema_version(component, version)``, shared with other components.

Storage (DESIGN section 7): ``telemetry(time, edge_id, channel, value,
text_value)`` with a unique key (edge_id, channel, time) that both drops
re-sent rows and serves history queries, plus ``telemetry_latest`` upserted on
ingest.

- **TimescaleDB** (when the extension is available and loadable): a hypertable
  with 1-day chunks, compressed after 7 days, segmented by edge and ordered by
  channel and time; its rollups are continuous aggregates
  (:mod:`ems.cloud.telemetry.continuous`) instead of the cloud-maintained table.
- **Plain PostgreSQL**: ``PARTITION BY RANGE (time)`` with one partition per
  UTC day, a BRIN index on time. Partitions for yesterday to the day after
  tomorrow are made at start and then hourly by the store, and a write that
  hits a missing day makes it on demand. There is deliberately **no DEFAULT
  partition**: rows parked there would silently stay there (and make creating
  the matching day's partition fail), whereas a missing partition is created
  on the spot. A row from a badly wrong edge clock therefore makes a stray day
  partition, which is visible and easy to drop.

The mode is decided once, when the table is first created; installing
TimescaleDB later does not convert an existing partitioned table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from enum import Enum

import asyncpg

from ems.cloud.migrations import migrate_postgres, postgres_version
from ems.cloud.telemetry import continuous
from ems.cloud.telemetry.rollup import POWER_SUFFIX

__all__ = [
    "SCHEMA_LOCK_KEY",
    "StorageMode",
    "days_of",
    "ensure_partitions",
    "ensure_schema",
    "existing_partition_days",
]

log = logging.getLogger(__name__)

COMPONENT = "telemetry"
#: ``pg_advisory_xact_lock`` key serialising schema changes (any constant shared by
#: all processes works; this is the ASCII of "emstelem").
SCHEMA_LOCK_KEY = 0x656D7374656C656D
PARTITION_PREFIX = "telemetry_p"


class StorageMode(Enum):
    TIMESCALEDB = "timescaledb"
    PARTITIONED = "partitioned"


_LATEST = """CREATE TABLE IF NOT EXISTS telemetry_latest (
    edge_id text COLLATE "C" NOT NULL,
    channel text COLLATE "C" NOT NULL,
    time timestamptz NOT NULL,
    value double precision,
    text_value text,
    PRIMARY KEY (edge_id, channel)
) WITH (fillfactor = 50)"""  # room on each page for HOT updates: every ingest rewrites rows

# Ids are ASCII (protocol patterns): byte order ("C") makes the key index and the
# per-batch sort cheaper than a linguistic collation would, and means the same everywhere.
_COLUMNS = """time timestamptz NOT NULL,
    edge_id text COLLATE "C" NOT NULL,
    channel text COLLATE "C" NOT NULL,
    value double precision,
    text_value text"""

_PARTITIONED_V1 = (
    f"""CREATE TABLE telemetry ({_COLUMNS},
        CONSTRAINT telemetry_key UNIQUE (edge_id, channel, time)
    ) PARTITION BY RANGE (time)""",
    # Rows arrive in time order, so a BRIN index stays tiny and still prunes
    # time-range scans that do not name an edge (exports, retention checks).
    "CREATE INDEX telemetry_time_brin ON telemetry USING brin (time)",
    _LATEST,
)

_TIMESCALE_V1 = (
    f"CREATE TABLE telemetry ({_COLUMNS})",
    """SELECT create_hypertable('telemetry', 'time', if_not_exists => TRUE,
        chunk_time_interval => interval '1 day')""",
    # Unique indexes on a hypertable must contain the time column; this one does.
    "CREATE UNIQUE INDEX telemetry_key ON telemetry (edge_id, channel, time)",
    """ALTER TABLE telemetry SET (timescaledb.compress,
        timescaledb.compress_segmentby = 'edge_id',
        timescaledb.compress_orderby = 'channel, time')""",
    "SELECT add_compression_policy('telemetry', interval '7 days', if_not_exists => TRUE)",
    _LATEST,
)

# Rollups (ems.cloud.telemetry.rollup), maintained by the store's write; history
# stored before they existed is rolled up once, here. On a hypertable the next step
# replaces the table with continuous aggregates (ems.cloud.telemetry.continuous).
_ROLLUP_V2 = (
    """CREATE TABLE IF NOT EXISTS telemetry_rollup (
        edge_id text COLLATE "C" NOT NULL,
        channel text COLLATE "C" NOT NULL,
        width_s integer NOT NULL,
        bucket_s bigint NOT NULL,
        n bigint NOT NULL,
        sum_w double precision NOT NULL,
        sum_in_w double precision NOT NULL,
        sum_out_w double precision NOT NULL,
        min_w double precision NOT NULL,
        max_w double precision NOT NULL,
        PRIMARY KEY (edge_id, channel, width_s, bucket_s)
    ) WITH (fillfactor = 70)""",
    f"""INSERT INTO telemetry_rollup
    SELECT edge_id, channel, w.width_s,
        (floor(extract(epoch FROM time) / w.width_s) * w.width_s)::bigint AS bucket,
        count(*), sum(value), sum(greatest(value, 0)), sum(greatest(-value, 0)),
        min(value), max(value)
    FROM telemetry CROSS JOIN (VALUES (900), (3600)) AS w(width_s)
    WHERE value IS NOT NULL AND channel LIKE '%{POWER_SUFFIX}'
    GROUP BY 1, 2, 3, 4
    ON CONFLICT DO NOTHING""",
)

#: Steps per mode; entry ``i`` upgrades version ``i`` to ``i + 1``. Append, never edit.
MIGRATIONS: dict[StorageMode, tuple[tuple[str, ...], ...]] = {
    StorageMode.PARTITIONED: (_PARTITIONED_V1, _ROLLUP_V2),
    StorageMode.TIMESCALEDB: (_TIMESCALE_V1, _ROLLUP_V2, continuous.SCHEMA_STEP),
}
_CONTINUOUS_SINCE = 3  # the TimescaleDB version that has the continuous aggregates


async def ensure_schema(conn: asyncpg.Connection, *, today: date | None = None) -> StorageMode:
    """Create or upgrade the schema; make the partitions around ``today`` (UTC).

    Returns the storage mode in use. ``conn`` is an ``asyncpg`` connection
    outside any transaction. The process that gives a hypertable its continuous
    aggregates then materializes the history already stored (the refresh
    policies look back only three days), after the schema transaction, as
    TimescaleDB refreshes outside transactions only.
    """
    today = today or datetime.now(UTC).date()
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
        current = await postgres_version(conn, COMPONENT)
        mode = await _existing_mode(conn) if current else await _choose_mode(conn)
        await migrate_postgres(conn, COMPONENT, MIGRATIONS[mode], current)
        if mode is StorageMode.PARTITIONED:
            await _create_partitions(conn, [today + timedelta(days=d) for d in range(-1, 3)])
    if mode is StorageMode.TIMESCALEDB and current < _CONTINUOUS_SINCE <= len(MIGRATIONS[mode]):
        await continuous.refresh(conn, continuous.initial_window(datetime.now(UTC).timestamp()))
    return mode


async def ensure_partitions(conn: asyncpg.Connection, days: Iterable[date]) -> list[date]:
    """Create the daily partitions among ``days`` that are missing; return those created."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
        return await _create_partitions(conn, days)


async def existing_partition_days(conn: asyncpg.Connection) -> set[date]:
    """The UTC days that already have a partition of ``telemetry``."""
    names = await conn.fetch(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'telemetry'::regclass"""
    )
    days: set[date] = set()
    for (name,) in names:
        if name.startswith(PARTITION_PREFIX):
            try:
                days.add(datetime.strptime(name[len(PARTITION_PREFIX) :], "%Y%m%d").date())
            except ValueError:
                continue  # someone else's partition (e.g. a manual archive): not ours to track
    return days


def days_of(times_s: Iterable[float]) -> set[date]:
    """The UTC days of epoch-second times."""
    return {date.fromordinal(_EPOCH_ORDINAL + int(t // 86400)) for t in times_s}


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


async def _create_partitions(conn: asyncpg.Connection, days: Iterable[date]) -> list[date]:
    # Called with the advisory lock held. Checking first matters: CREATE TABLE …
    # PARTITION OF locks the parent exclusively, which would stall every writer.
    missing = sorted(set(days) - await existing_partition_days(conn))
    for day in missing:
        nxt = day + timedelta(days=1)
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {PARTITION_PREFIX}{day:%Y%m%d} PARTITION OF telemetry
            FOR VALUES FROM ('{day} 00:00:00+00') TO ('{nxt} 00:00:00+00')"""
        )
    if missing:
        log.info("telemetry partitions created", extra={"days": [d.isoformat() for d in missing]})
    return missing


async def _choose_mode(conn: asyncpg.Connection) -> StorageMode:
    available = await conn.fetchval(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    )
    if not available:
        return StorageMode.PARTITIONED
    preloaded = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
    if "timescaledb" not in {name.strip() for name in str(preloaded or "").split(",")}:
        # Asked to create it then, TimescaleDB ends the session (FATAL), not just
        # the statement: look first.
        log.warning(
            "timescaledb is installed but not in shared_preload_libraries; "
            "using native partitions (add it and restart PostgreSQL to use a hypertable)"
        )
        return StorageMode.PARTITIONED
    try:
        # A savepoint: the role may lack the right to create the extension;
        # then we fall back, not fail.
        async with conn.transaction():
            await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except asyncpg.PostgresError as exc:
        log.warning(
            "timescaledb is available but cannot be enabled; using native partitions",
            extra={"error": str(exc)},
        )
        return StorageMode.PARTITIONED
    return StorageMode.TIMESCALEDB


async def _existing_mode(conn: asyncpg.Connection) -> StorageMode:
    partitioned = await conn.fetchval(
        "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('telemetry')"
    )
    if partitioned:
        return StorageMode.PARTITIONED
    # Two queries: the hypertables view does not exist without the extension.
    extension = await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    if extension and await conn.fetchval(
        """SELECT 1 FROM timescaledb_information.hypertables
        WHERE hypertable_schema = current_schema() AND hypertable_name = 'telemetry'"""
    ):
        return StorageMode.TIMESCALEDB
    raise RuntimeError("table telemetry exists but is neither partitioned nor a hypertable")
