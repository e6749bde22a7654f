"""Reports on PostgreSQL against an independent computation from an ``ems simulate`` CSV.

Two days of a Berlin house around the spring DST change (2026-03-28 and 29) are
simulated by the real CLI at a 60 s cycle; every CSV row becomes one telemetry
frame, stored through the cloud's batcher into PostgreSQL (the ingest path
behind ``/ws/edge``, without the socket). The reports, read from the rollups,
must agree with sums over the CSV within 0.5 % (they agree to rounding), a
backfilled gap must change them, and ``ems report`` must print the same figures.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import yaml

from ems.cli import main as ems_main
from ems.cloud.telemetry import PostgresTelemetryStore, TelemetryBatcher, TelemetryRow
from ems.edge.config import load_edge_config
from ems.reports import Period, ReportSite, SiteEntry, build_report

BERLIN = ZoneInfo("Europe/Berlin")
PERIOD_S = 60.0
PRICES = [(0, 7, 0.22), (7, 17, 0.29), (17, 21, 0.59), (21, 24, 0.29)]
EXPORT_PRICE = 0.08
DEMAND = 9.5
REL = 0.005  # the bound; the figures agree far closer
GAP = (
    dt.datetime(2026, 3, 29, 10, tzinfo=BERLIN).timestamp(),
    dt.datetime(2026, 3, 29, 12, tzinfo=BERLIN).timestamp(),
)


@pytest.fixture
def pg_dsn(postgres_url: str) -> Iterator[str]:
    name = f"r_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f"CREATE DATABASE {name}"))
    yield urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    asyncio.run(_admin(postgres_url, f"DROP DATABASE {name} WITH (FORCE)"))


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def site_yaml(folder: Path) -> Path:
    demo = Path(__file__).parents[2] / "src/ems/edge/sites/demo.yaml"
    body: dict[str, Any] = yaml.safe_load(demo.read_text(encoding="utf-8"))
    body["cycle"] = {"period_s": PERIOD_S}
    body["tariff"] = {
        "currency": "EUR",
        "import": {
            "windows": [
                {"from": f"{a:02d}:00", "to": f"{b:02d}:00", "price_per_kwh": p}
                for a, b, p in PRICES
            ]
        },
        "export": {"price_per_kwh": EXPORT_PRICE},
        "demand_charge_per_kw_month": DEMAND,
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def simulated(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[dict[str, str]], dict[str, Any]]:
    folder = tmp_path_factory.mktemp("sim")
    config = site_yaml(folder)
    out = folder / "two-days.csv"
    args = ["simulate", "--config", str(config), "--hours", "47", "--start", "2026-03-28"]
    proc = subprocess.run(
        [sys.executable, "-m", "ems.cli", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 47 * 60
    return config, rows, summary


def frames(rows: list[dict[str, str]]) -> list[list[TelemetryRow]]:
    """One frame per CSV row, every numeric channel, as the edge would send it."""
    out = []
    for r in rows:
        t = dt.datetime.fromisoformat(r["timestamp"]).timestamp()
        frame = []
        for channel, cell in r.items():
            if channel == "timestamp" or cell == "":
                continue
            try:
                value = float(cell)
            except ValueError:
                frame.append(TelemetryRow(t, "site-1", channel, None, cell))
            else:
                frame.append(TelemetryRow(t, "site-1", channel, value, None))
        out.append(frame)
    return out


def reference(rows: list[dict[str, str]], start_s: float, end_s: float) -> dict[str, float]:
    h = PERIOD_S / 3600.0
    ref: dict[str, float] = defaultdict(float)
    quarters: dict[int, float] = defaultdict(float)
    for r in rows:
        t = dt.datetime.fromisoformat(r["timestamp"]).timestamp()
        if not start_s <= t < end_s:
            continue
        grid = float(r["_sum/GridActivePower"])
        bat = float(r["_sum/EssActivePower"])
        price = next(p for a, b, p in PRICES if a <= dt.datetime.fromtimestamp(t, BERLIN).hour < b)
        ref["import"] += max(grid, 0) * h / 1000
        ref["export"] += max(-grid, 0) * h / 1000
        ref["production"] += float(r["_sum/ProductionActivePower"]) * h / 1000
        ref["consumption"] += float(r["_sum/ConsumptionActivePower"]) * h / 1000
        ref["charge"] += max(-bat, 0) * h / 1000
        ref["discharge"] += max(bat, 0) * h / 1000
        ref["energy_cost"] += (max(grid, 0) * price - max(-grid, 0) * EXPORT_PRICE) * h / 1000
        quarters[int(t // 900)] += max(grid, 0) * PERIOD_S / 900
    ref["peak_w"] = max(quarters.values())
    ref["top_s"] = max(quarters, key=lambda q: quarters[q]) * 900.0
    ref["cost"] = ref["energy_cost"] + DEMAND * ref["peak_w"] / 1000
    return ref


def assert_matches(data: dict[str, Any], ref: dict[str, float]) -> None:
    e = data["energy"]
    for key, name in [
        ("grid_import_kwh", "import"),
        ("grid_export_kwh", "export"),
        ("production_kwh", "production"),
        ("consumption_kwh", "consumption"),
        ("battery_charge_kwh", "charge"),
        ("battery_discharge_kwh", "discharge"),
    ]:
        assert e[key] == pytest.approx(ref[name], rel=REL), key
    assert e["self_consumption_pct"] == pytest.approx(
        100 * (ref["production"] - ref["export"]) / ref["production"], rel=REL
    )
    assert e["self_sufficiency_pct"] == pytest.approx(
        100 * (ref["consumption"] - ref["import"]) / ref["consumption"], rel=REL
    )
    assert data["cost"]["total"] == pytest.approx(ref["cost"], rel=REL)
    top = data["peaks"][0]["intervals"][0]
    assert top["import_w"] == pytest.approx(ref["peak_w"], rel=REL)
    assert dt.datetime.fromisoformat(top["start"]).timestamp() == ref["top_s"]


async def ingest(store: PostgresTelemetryStore, batch: list[list[TelemetryRow]]) -> None:
    batcher = TelemetryBatcher(store, max_rows=5000, max_delay_s=0.05, max_concurrent=2)
    await asyncio.gather(*(batcher.submit(f) for f in batch))
    await batcher.close()


def test_reports_agree_with_the_simulated_csv(
    pg_dsn: str,
    simulated: tuple[Path, list[dict[str, str]], dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_path, rows, summary = simulated
    config = load_edge_config(config_path)
    assert config.tariff is not None
    entry = SiteEntry(timezone="Europe/Berlin", tariff=config.tariff)
    site = ReportSite.build("site-1", entry, config.config_dir)
    all_frames = frames(rows)
    late = [f for f in all_frames if GAP[0] <= f[0].time_s < GAP[1]]
    on_time = [f for f in all_frames if not GAP[0] <= f[0].time_s < GAP[1]]
    assert len(late) == 120

    week = Period.of("week", dt.date(2026, 3, 28), BERLIN)
    dst_day = Period.of("day", dt.date(2026, 3, 29), BERLIN)

    async def run() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        store = PostgresTelemetryStore(pg_dsn, pool_size=3)
        await store.start()
        try:
            await ingest(store, on_time)
            before = (await build_report(store, "site-1", dst_day, site)).data
            await ingest(store, late)  # the edge's buffer, backfilled after a reconnect
            day = (await build_report(store, "site-1", dst_day, site)).data
            whole = (await build_report(store, "site-1", week, site)).data
        finally:
            await store.close()
        return before, day, whole

    before, day, whole = asyncio.run(run())

    assert whole["period"]["hours"] == 7 * 24 - 1
    assert_matches(whole, reference(rows, week.start_s, week.end_s))
    # ems simulate's own summary line, for the same two days
    assert whole["energy"]["grid_import_kwh"] == pytest.approx(summary["import_kwh"], rel=REL)
    assert whole["energy"]["grid_export_kwh"] == pytest.approx(summary["export_kwh"], rel=REL)
    assert whole["cost"]["total"] == pytest.approx(summary["cost"], rel=REL)
    assert whole["peaks"][0]["intervals"][0]["import_w"] == pytest.approx(
        summary["peak_import_15min_w"], rel=REL
    )

    assert day["period"]["hours"] == 23
    assert day["period"]["coverage_pct"] == 100.0
    assert len(day["peaks"][0]["intervals"]) == 5
    assert_matches(day, reference(rows, dst_day.start_s, dst_day.end_s))
    assert before["period"]["coverage_pct"] == pytest.approx(100 * (92 - 8) / 92)
    assert before["energy"]["production_kwh"] < day["energy"]["production_kwh"] - 0.5

    # ems report prints the same figures from the same store
    code = ems_main(
        [
            "report",
            "--config",
            str(config_path),
            "--period",
            "day",
            "--start",
            "2026-03-29",
            "--database-url",
            pg_dsn,
            "--carbon-g-per-kwh",
            "380",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["energy"] == day["energy"]
    assert printed["cost"] == day["cost"]
    assert printed["carbon"]["source"] == "constant 380 gCO2/kWh"
