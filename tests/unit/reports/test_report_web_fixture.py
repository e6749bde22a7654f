"""The dashboard's report fixture (``web/src/features/reports/fixtures/report-day.json``,
parsed by its zod schema in vitest) has the shape the cloud serves today: the same
keys, section by section, as a day report built now."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from report_site_data import BERLIN, EDGE, MARCH_START_S, rows, samples, site

from ems.cloud.telemetry import SqliteTelemetryStore
from ems.reports import Period, PeriodKind, build_report

FIXTURE = Path(__file__).parents[3] / "web/src/features/reports/fixtures/report-day.json"


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


@pytest.mark.asyncio
async def test_the_web_fixture_has_the_served_shape(tmp_path: Path) -> None:
    store = SqliteTelemetryStore(tmp_path / "t.sqlite3")
    await store.start()
    try:
        await store.write(rows(samples(MARCH_START_S, MARCH_START_S + 86_400)))
        period = Period.of(PeriodKind.DAY, dt.date(2026, 3, 1), BERLIN)
        report = await build_report(store, EDGE, period, site())
    finally:
        await store.close()
    served = json.loads(json.dumps({**report.data, "chart": report.chart}))
    assert shape(json.loads(FIXTURE.read_text(encoding="utf-8"))) == shape(served)
