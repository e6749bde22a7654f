"""The PDF rendered back with pdfium: its pages, its stated site, period, zone and units,
and its headline figures as text."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import pytest_asyncio
from report_site_data import BERLIN, EDGE, MARCH_START_S, rows, samples, site

from ems.cloud.telemetry import SqliteTelemetryStore
from ems.reports import Period, build_report, render_pdf


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTelemetryStore]:
    s = SqliteTelemetryStore(tmp_path / "telemetry.db")
    await s.start()
    await s.write(rows(samples(MARCH_START_S, MARCH_START_S + 7 * 86_400)))
    yield s
    await s.close()


@pytest.mark.asyncio
async def test_the_pdf_states_its_figures(store: SqliteTelemetryStore) -> None:
    report = await build_report(store, EDGE, Period.of("week", dt.date(2026, 3, 1), BERLIN), site())
    pdf = pdfium.PdfDocument(render_pdf(report, site_name="Test house"))
    try:
        assert len(pdf) == 2
        text = [page.get_textpage().get_text_range() for page in pdf]
        first = " ".join(text[0].split())
        assert "Energy report: Test house" in first
        assert "2026-03-01 to 2026-03-07" in first
        assert "Europe/Berlin" in first
        assert "Energy in kWh, power in W, money in EUR" in first
        data = report.data
        assert f"Grid import {data['energy']['grid_import_kwh']:.2f}" in first
        assert f"Production {data['energy']['production_kwh']:.2f}" in first
        assert f"Total {data['cost']['total']:.2f}" in first
        assert "Flat threshold 3000 W" in first
        second = " ".join(text[1].split())
        assert "top five 15-min mean imports" in second
        top = data["peaks"][0]["intervals"][0]
        assert f"{top['import_w']:.0f}" in second
        # The chart is a picture on page 1: rendered, the page is far from blank.
        image = pdf[0].render(scale=0.5).to_pil().convert("L")
        dark = sum(image.histogram()[:200])  # pixels darker than light grey
        assert dark > 0.02 * image.width * image.height
    finally:
        pdf.close()
