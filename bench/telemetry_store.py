"""PostgreSQL's cost per stored telemetry value: the store's write path against a raw COPY.

The database side of DESIGN 11's telemetry budget, without the cloud's sockets:
a throwaway PostgreSQL (``tests/support``, fsync off), one writer, ``--edges``
edges × ``--channels`` channels at 1 Hz written as the batcher does (batches of
``--batch-edges`` edges' frames) for ``--seconds`` seconds of data, through
:class:`~ems.cloud.telemetry.PostgresTelemetryStore` with
``EMS_TELEMETRY_LATEST_EVERY_S`` 0 (the latest values upserted with every
batch) and 5 (the default), and as a raw binary COPY of the same rows into
``telemetry``. The store's clock follows the data's time, so the upserts
skipped are those a live cloud would skip.

``pg_cpu_us_per_value`` is the CPU time of the PostgreSQL processes per value
(other jobs on the machine change it little); ``values_per_s`` is wall-clock
and does depend on them. Prints one JSON object.

    .venv/bin/python bench/telemetry_store.py [--edges 2000] [--channels 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

import _tests_path  # noqa: F401  (tests/ on sys.path: the support package)
from _services import cpu_s  # bench/
from ems.cloud.telemetry import PostgresTelemetryStore
from ems.cloud.telemetry.model import Row
from support.postgres import RunningPostgres, start_postgres

T0 = 1_780_000_000.0  # 2026-05-28, UTC: any fixed time


def batches(
    edges: int, channels: int, seconds: int, batch_edges: int, edge_prefix: str
) -> Iterator[tuple[float, list[Row]]]:
    """(data time [s], rows) per batch: every edge's frame once a second, phases spread."""
    names = [f"grid/Extra{k}" for k in range(channels)]
    for second in range(seconds):
        for first in range(0, edges, batch_edges):
            rows: list[Row] = []
            for e in range(first, min(edges, first + batch_edges)):
                at = T0 + second + e / edges
                edge = f"{edge_prefix}{e}"
                rows.extend(
                    (at, edge, n, 1000.0 + (second + k) % 97, None) for k, n in enumerate(names)
                )
            yield T0 + second + first / edges, rows


def postgres_pid(server: RunningPostgres) -> int:
    return int((server.data_dir / "postmaster.pid").read_text().split()[0])


async def through_store(
    server: RunningPostgres, args: argparse.Namespace, latest_every_s: float, prefix: str
) -> dict[str, float]:
    data_time = [T0]
    store = PostgresTelemetryStore(
        server.dsn, pool_size=1, latest_every_s=latest_every_s, clock=lambda: data_time[0]
    )
    await store.start()
    try:
        values = 0
        cpu0, wall0 = cpu_s(postgres_pid(server), children=True), time.perf_counter()
        for at, rows in batches(args.edges, args.channels, args.seconds, args.batch_edges, prefix):
            data_time[0] = at
            await store.write(rows)
            values += len(rows)
        await store.catch_up_latest(everyone=True)  # its share counted too
        cpu1, wall1 = cpu_s(postgres_pid(server), children=True), time.perf_counter()
    finally:
        await store.close()
    return _figures(values, cpu1 - cpu0, wall1 - wall0)


async def raw_copy(server: RunningPostgres, args: argparse.Namespace) -> dict[str, float]:
    conn = await asyncpg.connect(server.dsn)
    try:
        values = 0
        cpu0, wall0 = cpu_s(postgres_pid(server), children=True), time.perf_counter()
        for _, rows in batches(args.edges, args.channels, args.seconds, args.batch_edges, "copy-"):
            records = [(_utc(r[0]), r[1], r[2], r[3], r[4]) for r in rows]
            await conn.copy_records_to_table(
                "telemetry",
                records=records,
                columns=("time", "edge_id", "channel", "value", "text_value"),
            )
            values += len(rows)
        cpu1, wall1 = cpu_s(postgres_pid(server), children=True), time.perf_counter()
    finally:
        await conn.close()
    return _figures(values, cpu1 - cpu0, wall1 - wall0)


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _figures(values: int, cpu_s_: float, wall_s: float) -> dict[str, float]:
    return {
        "values": values,
        "pg_cpu_us_per_value": round(cpu_s_ / values * 1e6, 2),
        "values_per_s": round(values / wall_s),
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    server = start_postgres(Path(args.base_dir) if args.base_dir else None)
    try:
        # Interleaved and repeated: the machine's other jobs hit every variant alike.
        result: dict[str, list[dict[str, float]]] = {
            "latest_every_batch": [],
            "latest_every_5_s": [],
        }
        for r in range(args.repeat):
            result["latest_every_batch"].append(await through_store(server, args, 0.0, f"a{r}-"))
            result["latest_every_5_s"].append(await through_store(server, args, 5.0, f"b{r}-"))
        copy = await raw_copy(server, args)
    finally:
        server.stop()
    best = {k: min(v, key=lambda f: f["pg_cpu_us_per_value"]) for k, v in result.items()}
    return {
        "edges": args.edges,
        "channels": args.channels,
        "seconds_of_data": args.seconds,
        **best,
        "raw_copy": copy,
        "runs": result,
        "copy_ratio_cpu": {
            k: round(copy["pg_cpu_us_per_value"] / v["pg_cpu_us_per_value"], 3)
            for k, v in best.items()
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--edges", type=int, default=2000, help="edges (2000)")
    parser.add_argument("--channels", type=int, default=50, help="values per frame (50)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of data per variant (10)")
    parser.add_argument("--batch-edges", type=int, default=100, help="frames per batch (100)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each variant, best kept (2)")
    parser.add_argument("--base-dir", help="where the throwaway PostgreSQL lives (temp dir)")
    args = parser.parse_args()
    if not (1 <= args.edges <= 100_000 and 1 <= args.channels <= 1000 and args.seconds >= 1):
        parser.error("--edges, --channels or --seconds out of range")
    print(json.dumps(asyncio.run(run(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
