"""Report figures from the SQLite store's rollups against the same figures computed
straight from the samples, over March 2026 in Berlin (a 743-hour month)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from report_site_data import (
    BERLIN,
    CARBON_G,
    DEMAND_PER_KW,
    EDGE,
    EXPORT_PRICE,
    MARCH_START_S,
    SECOND_S,
    SPIKE_S,
    STEP_S,
    import_price,
    rows,
    samples,
    site,
)

from ems.cloud.telemetry import SqliteTelemetryStore
from ems.reports import Period, build_report, render_csv

H = STEP_S / 3600.0


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTelemetryStore]:
    s = SqliteTelemetryStore(tmp_path / "telemetry.db")
    await s.start()
    data = rows(samples())
    for i in range(0, len(data), 5000):  # in ingest-sized batches
        await s.write(data[i : i + 5000])
    yield s
    await s.close()


def reference() -> dict[str, float]:
    """Every figure from the samples, each holding for STEP_S."""
    ref: dict[str, float] = defaultdict(float)
    quarter_import: dict[int, float] = defaultdict(float)
    quarter_nb: dict[int, float] = defaultdict(float)
    for s in samples():
        g = s.grid_w
        ref["import"] += max(g, 0) * H / 1000
        ref["export"] += max(-g, 0) * H / 1000
        ref["production"] += s.pv_w * H / 1000
        ref["consumption"] += s.load_w * H / 1000
        ref["charge"] += max(-s.battery_w, 0) * H / 1000
        ref["discharge"] += max(s.battery_w, 0) * H / 1000
        ref["energy_cost"] += max(g, 0) * H / 1000 * import_price(s.t_s)
        ref["energy_cost"] -= max(-g, 0) * H / 1000 * EXPORT_PRICE
        q = int(s.t_s // 900)
        quarter_import[q] += max(g, 0) * STEP_S / 900  # mean import of the quarter, W
        quarter_nb[q] += (g + s.battery_w) * STEP_S / 900  # mean no-battery grid, W
    ref["peak_w"] = max(quarter_import.values())
    ref["demand"] = DEMAND_PER_KW * ref["peak_w"] / 1000
    ref["nb_import"] = sum(max(w, 0) for w in quarter_nb.values()) * 0.25 / 1000
    nb_cost = sum(
        max(w, 0) * 0.25 / 1000 * import_price(q * 900) - max(-w, 0) * 0.25 / 1000 * EXPORT_PRICE
        for q, w in quarter_nb.items()
    )
    nb_peak = max(quarter_nb.values())
    ref["nb_total"] = nb_cost + DEMAND_PER_KW * nb_peak / 1000
    ref["flat_total"] = nb_cost + DEMAND_PER_KW * min(nb_peak, 3000) / 1000
    ref["top"] = sorted(quarter_import, key=lambda q: -quarter_import[q])[0] * 900
    return ref


@pytest.mark.asyncio
async def test_a_dst_month_from_rollups_matches_the_samples(store: SqliteTelemetryStore) -> None:
    period = Period.of("month", dt.date(2026, 3, 17), BERLIN)
    report = await build_report(store, EDGE, period, site())
    data = report.data
    ref = reference()

    assert data["period"]["first_day"] == "2026-03-01"
    assert data["period"]["last_day"] == "2026-03-31"
    assert data["period"]["hours"] == 743  # the clocks went forward on the 29th
    assert data["period"]["quarter_hours"] == 743 * 4
    assert data["period"]["coverage_pct"] == 100.0
    e = data["energy"]
    approx = pytest.approx
    assert e["grid_import_kwh"] == approx(ref["import"], rel=1e-9)
    assert e["grid_export_kwh"] == approx(ref["export"], rel=1e-9)
    assert e["production_kwh"] == approx(ref["production"], rel=1e-9)
    assert e["consumption_kwh"] == approx(ref["consumption"], rel=1e-9)
    assert e["battery_charge_kwh"] == approx(ref["charge"], rel=1e-9)
    assert e["battery_discharge_kwh"] == approx(ref["discharge"], rel=1e-9)
    assert e["self_consumption_pct"] == approx(
        100 * (ref["production"] - ref["export"]) / ref["production"]
    )
    assert e["self_sufficiency_pct"] == approx(
        100 * (ref["consumption"] - ref["import"]) / ref["consumption"]
    )
    cost = data["cost"]
    assert cost["currency"] == "EUR"
    assert cost["demand_charge"] == approx(ref["demand"], rel=1e-9)
    assert cost["total"] == approx(ref["energy_cost"] + ref["demand"], rel=1e-9)

    (march,) = data["peaks"]
    top = march["intervals"]
    assert len(top) == 5
    assert top[0]["start_local"] == "2026-03-29T10:00:00+02:00"  # after the change
    assert top[0]["import_w"] == approx(ref["peak_w"], rel=1e-9)
    assert top[0]["demand_charge"] == approx(ref["demand"], rel=1e-9)
    assert top[1]["start_local"] == "2026-03-28T23:45:00+01:00"  # before it
    assert dt.datetime.fromisoformat(top[0]["start"]).timestamp() == SPIKE_S == ref["top"]
    assert dt.datetime.fromisoformat(top[1]["start"]).timestamp() == SECOND_S
    assert [p["import_w"] for p in top] == sorted((p["import_w"] for p in top), reverse=True)

    no_battery = data["savings"]["no_battery"]
    assert no_battery["grid_import_kwh"] == approx(ref["nb_import"], rel=1e-9)
    assert no_battery["cost"] == approx(ref["nb_total"], rel=1e-9)
    assert no_battery["savings"] == approx(ref["nb_total"] - cost["total"], rel=1e-9)
    flat = data["savings"]["flat_threshold"]
    assert flat["savings"] == approx(ref["flat_total"] - cost["total"], rel=1e-9)

    carbon = data["carbon"]
    assert carbon["total_kg"] == approx(
        CARBON_G * (e["consumption_kwh"] - e["grid_import_kwh"]) / 1000, rel=1e-9
    ), "with a constant factor the avoided import is consumption minus import"

    assert len(report.chart) == 31
    dst_day = next(r for r in report.chart if r["label"] == "03-29")
    assert dst_day["start"] == "2026-03-29T00:00:00+01:00"
    assert sum(r["grid_import_kwh"] for r in report.chart) == approx(ref["import"], rel=1e-9)
    lines = render_csv(report).split("\n\n")[0].splitlines()  # the energy table
    assert lines[0].startswith("start,consumption_kwh")
    assert len(lines) == 1 + 31 + 1
    assert lines[-1].startswith("total,")


@pytest.mark.asyncio
async def test_the_dst_day_has_23_hourly_buckets(store: SqliteTelemetryStore) -> None:
    period = Period.of("day", dt.date(2026, 3, 29), BERLIN)
    report = await build_report(store, EDGE, period, site())
    assert report.data["period"]["hours"] == 23
    assert [r["label"] for r in report.chart][:3] == ["00:00", "01:00", "03:00"]
    assert len(report.chart) == 23
    assert report.data["chart_resolution"] == "hour"


@pytest.mark.asyncio
async def test_late_data_changes_the_report(tmp_path: Path) -> None:
    s = SqliteTelemetryStore(tmp_path / "late.db")
    await s.start()
    try:
        data = rows(samples(MARCH_START_S, MARCH_START_S + 86_400))
        missing = {r for r in data if 12 * 3600 <= r.time_s - data[0].time_s < 13 * 3600}
        await s.write([r for r in data if r not in missing])
        period = Period.of("day", dt.date(2026, 3, 1), BERLIN)
        before = (await build_report(s, EDGE, period, site())).data
        assert before["period"]["coverage_pct"] == pytest.approx(100 * 92 / 96)
        await s.write(sorted(missing))  # the edge's buffer, backfilled after a reconnect
        after = (await build_report(s, EDGE, period, site())).data
        assert after["period"]["coverage_pct"] == 100.0
        assert after["energy"]["production_kwh"] > before["energy"]["production_kwh"] + 1
    finally:
        await s.close()


@pytest.mark.asyncio
async def test_an_edge_without_data_or_tariff(store: SqliteTelemetryStore) -> None:
    period = Period.of("week", dt.date(2026, 3, 2), BERLIN)
    plain = site()
    no_tariff = type(plain)(plain.name, BERLIN, None, None, None, None)
    report = await build_report(store, "other-site", period, no_tariff)
    data = report.data
    assert data["period"]["coverage_pct"] == 0.0
    assert data["cost"] is None and data["carbon"] is None
    assert data["energy"]["self_sufficiency_pct"] is None
    assert data["peaks"] == []
    assert (
        render_csv(report).split("\n\n")[0].splitlines()[-1]
        == "total,0.000000,0.000000,0.000000,0.000000,0.000000,0.000000,"
    )
