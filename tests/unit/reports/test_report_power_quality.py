"""Power quality: minutes outside EN 50160 counted from one-minute buckets, worst values,
and "no data" never reading as "all good"; end to end through the SQLite store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdfium2 as pdfium
import pytest

from ems.cloud.telemetry import SqliteTelemetryStore, TelemetryRow
from ems.cloud.telemetry.model import HistoryPoint
from ems.reports import (
    Period,
    PeriodKind,
    ReportSite,
    SiteEntry,
    build_report,
    render_csv,
    render_pdf,
)
from ems.reports.power_quality import PowerQualityConfig, compute_power_quality

BERLIN = ZoneInfo("Europe/Berlin")


def minute(
    t_s: float, avg: float, lo: float | None = None, hi: float | None = None
) -> HistoryPoint:
    return HistoryPoint(t_s, avg, avg if lo is None else lo, avg if hi is None else hi, None)


def test_minutes_outside_the_bands_and_the_worst_samples() -> None:
    config = PowerQualityConfig(nominal_voltage_v=230.0)
    volts = [minute(i * 60, 230.0) for i in range(10)]
    volts[2] = minute(120, 250.0, hi=256.0)  # a swell inside a normal minute: not counted
    volts[3] = minute(180, 254.0, hi=260.0)  # mean above 253 V
    volts[4] = minute(240, 200.0, lo=190.0)  # below 207 V
    volts[5] = minute(300, 230.0, lo=150.0)  # a dip inside a normal minute: worst, not counted
    hertz = [minute(i * 60, 50.0) for i in range(10)]
    hertz[7] = minute(420, 49.4, lo=49.2)
    section = compute_power_quality(config, {"grid/Voltage": volts, "grid/Frequency": hertz})

    voltage = section["voltage"]
    assert (voltage["low_limit_v"], voltage["high_limit_v"]) == pytest.approx((207.0, 253.0))
    [v] = voltage["channels"]
    assert (v["minutes_measured"], v["minutes_above"], v["minutes_below"]) == (10, 1, 1)
    assert v["minutes_outside"] == 2
    assert (v["worst_low"], v["worst_high"]) == (150.0, 260.0)
    [f] = section["frequency"]["channels"]
    assert (f["minutes_below"], f["minutes_above"], f["worst_low"]) == (1, 0, 49.2)
    assert section["harmonics"]["channels"] == []
    assert "no THD channel" in section["harmonics"]["note"]


def test_a_channel_without_samples_says_so() -> None:
    section = compute_power_quality(PowerQualityConfig(), {})
    [v] = section["voltage"]["channels"]
    assert v["minutes_measured"] == 0
    assert v["worst_low"] is None
    assert v["mean"] is None


def test_thd_channels_are_judged_against_eight_percent() -> None:
    config = PowerQualityConfig(thd_channels=("meter/VoltageThd",))
    section = compute_power_quality(
        config, {"meter/VoltageThd": [minute(0, 3.0), minute(60, 9.0, hi=12.0)]}
    )
    [h] = section["harmonics"]["channels"]
    assert (h["minutes_above"], h["worst_high"]) == (1, 12.0)
    assert section["harmonics"]["note"] is None


@pytest.mark.asyncio
async def test_a_day_of_samples_through_the_store(tmp_path: Path) -> None:
    """10 s samples: 3 minutes of overvoltage, 1 minute of underfrequency, one 120 s gap."""
    store = SqliteTelemetryStore(tmp_path / "t.sqlite3")
    await store.start()
    try:
        start = dt.datetime(2026, 3, 29, tzinfo=BERLIN).timestamp()  # the 23-hour day
        over = {start + 600 + i for i in range(0, 180, 10)}
        rows = []
        for i in range(0, 23 * 3600, 10):
            t = start + i
            volts = 258.0 if t in over else 231.0
            hertz = 49.3 if 3600 <= i < 3660 else 50.01
            rows.append(TelemetryRow(t, "site-1", "grid/Voltage", volts, None))
            rows.append(TelemetryRow(t, "site-1", "grid/Frequency", hertz, None))
            rows.append(TelemetryRow(t, "site-1", "battery/Voltage", 48.0, None))
            rows.append(TelemetryRow(t, "site-1", "_sum/EssActivePower", -1000.0, None))
        rows.append(TelemetryRow(start, "site-1", "battery/SohEstimate", 97.0, None))
        await store.write(rows)
        entry = SiteEntry.model_validate(
            {
                "timezone": "Europe/Berlin",
                "battery": {"capacity_wh": 23_000, "soh_channel": "battery/SohEstimate"},
            }
        )
        site = ReportSite.build("site-1", entry, tmp_path)
        period = Period.of(PeriodKind.DAY, dt.date(2026, 3, 29), BERLIN)
        report = await build_report(store, "site-1", period, site)
    finally:
        await store.close()
    pq = report.data["power_quality"]
    [v] = pq["voltage"]["channels"]  # the battery's DC Voltage is not judged
    assert v["minutes_measured"] == 23 * 60
    assert (v["minutes_above"], v["worst_high"]) == (3, 258.0)
    [f] = pq["frequency"]["channels"]
    assert (f["minutes_below"], f["worst_low"]) == (1, 49.3)
    battery = report.data["battery_health"]
    assert battery["charge_kwh"] == pytest.approx(23.0)  # 1 kW for the 23 h day
    assert battery["equivalent_full_cycles"] == pytest.approx(0.5)
    assert battery["soh_pct"] == 97.0

    csv_text = render_csv(report)
    assert "\nvoltage,grid/Voltage,1380,3,0,3," in csv_text
    pdf = pdfium.PdfDocument(render_pdf(report))
    text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "Power quality (EN 50160)" in text
    assert "Battery health" in text
    assert "Anomalies (0)" in text
