"""``ems report``: the energy report of one edge from the cloud's telemetry store, as a file.

The site's time zone and tariff come from the edge's own YAML (``--config``),
so no sites file is needed; the store is the cloud's (``--database-url`` for
PostgreSQL, else the SQLite file in ``--data-dir``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from ems.errors import ConfigError, EmsError

__all__ = ["add_report_parser"]


def add_report_parser(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="write an edge's energy report (JSON, CSV or PDF) from the cloud's telemetry",
        description="The energy report of DESIGN 15 for a local day, week or month, from the "
        "15-min rollups of the cloud's telemetry store.",
    )
    report.add_argument("--config", type=Path, required=True, help="the edge's YAML")
    report.add_argument("--edge-id", help="default: the config's edge_id")
    report.add_argument("--period", choices=["day", "week", "month"], required=True)
    report.add_argument("--start", required=True, help="first local day, e.g. 2026-03-01")
    report.add_argument("--format", choices=["json", "csv", "pdf"], default="json")
    report.add_argument("--out", type=Path, help="file to write; default: standard output")
    report.add_argument(
        "--database-url", help="postgresql://… (default $EMS_DATABASE_URL, else SQLite)"
    )
    report.add_argument("--data-dir", type=Path, help="the cloud's data folder (SQLite)")
    carbon = report.add_mutually_exclusive_group()
    carbon.add_argument("--carbon-g-per-kwh", type=float, help="constant grid-mix factor")
    carbon.add_argument("--carbon-csv", type=Path, help="hourly factors: timestamp,g_per_kwh")
    report.add_argument("--carbon-column", default="g_per_kwh")
    report.add_argument("--threshold-w", type=float, help="flat import threshold baseline [W]")
    report.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from ems.edge.config import load_edge_config
    from ems.reports import CarbonConfig, Period, ReportSite, SiteEntry

    config = load_edge_config(args.config)
    try:
        start = dt.date.fromisoformat(args.start)
    except ValueError:
        raise EmsError(f"--start {args.start!r}: expected a date such as 2026-03-01") from None
    carbon = None
    try:
        if args.carbon_g_per_kwh is not None:
            carbon = CarbonConfig(g_per_kwh=args.carbon_g_per_kwh)
        elif args.carbon_csv is not None:
            carbon = CarbonConfig(csv=str(args.carbon_csv.resolve()), column=args.carbon_column)
        entry = SiteEntry(
            timezone=config.site.timezone,
            tariff=config.tariff,
            baseline_threshold_w=args.threshold_w,
        )
    except ValueError as exc:
        raise ConfigError(f"report options: {exc}") from None
    site = ReportSite.build(args.edge_id or config.edge_id, entry, config.config_dir)
    site = site.with_overrides(carbon, None, Path.cwd())
    period = Period.of(args.period, start, site.timezone)
    body = asyncio.run(_render(args, site, period))
    if args.out is None:
        if isinstance(body, bytes):
            sys.stdout.buffer.write(body)
        else:
            sys.stdout.write(body)
    else:
        args.out.write_bytes(body if isinstance(body, bytes) else body.encode())
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


async def _render(args: argparse.Namespace, site: Any, period: Any) -> str | bytes:
    from ems.cloud.telemetry import PostgresTelemetryStore, SqliteTelemetryStore
    from ems.reports import build_report, render_csv, render_pdf

    url = args.database_url or os.environ.get("EMS_DATABASE_URL")
    store: PostgresTelemetryStore | SqliteTelemetryStore
    if url:
        store = PostgresTelemetryStore(url, pool_size=1)
    else:
        folder = args.data_dir or Path(os.environ.get("EMS_DATA_DIR") or "ems-data")
        path = folder / "telemetry.sqlite3"
        if not path.exists():
            raise EmsError(f"no telemetry store at {path} (give --data-dir or --database-url)")
        store = SqliteTelemetryStore(path)
    await store.start()
    try:
        report = await build_report(store, site.name, period, site)
    finally:
        await store.close()
    if args.format == "csv":
        return render_csv(report)
    if args.format == "pdf":
        return render_pdf(report)
    return json.dumps(report.data, indent=2) + "\n"
