"""``GET /api/energy`` over the SQLite store's hourly rollups: per-hour and per-day kWh
agree with the samples integrated here, grants hold, bad input names its field."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from report_site_data import EDGE, MARCH_START_S, STEP_S, Sample, rows, samples

from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.energy_api import build_energy_router
from ems.cloud.telemetry import SqliteTelemetryStore

GRANTED = {"Authorization": "Bearer granted"}
OTHER = {"Authorization": "Bearer other"}
URL = "/api/energy"
# March 1st, 00:00 Berlin is Feb 28th 23:00 UTC: two UTC days hold the samples' first day.
DAY_START_S = 1772323200.0  # 2026-03-01T00:00:00Z
QUERY = {"edge_id": EDGE, "from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}


async def verify(token: str) -> Claims:
    now = time.time()
    edges = {"granted": frozenset({EDGE}), "other": frozenset({"site-2"})}.get(token)
    if edges is None:
        raise AuthError("invalid_token", "not a token")
    return Claims("vic", "viewer", 2, now + 300, now, str(uuid.uuid4()), edges)


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = SqliteTelemetryStore(tmp_path / "telemetry.sqlite3")
    await store.start()
    await store.write(rows(samples(MARCH_START_S, MARCH_START_S + 2 * 86_400)))
    app = FastAPI()
    app.include_router(build_energy_router(store, verify))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cloud"
    ) as c:
        yield c
    await store.close()


def integrate(items: list[Sample], start_s: float, end_s: float) -> dict[str, float]:
    """Each sample's power held for its step, in kWh: what the rollups should give."""
    h = STEP_S / 3600 / 1000
    inside = [s for s in items if start_s <= s.t_s < end_s]
    return {
        "consumed_kwh": math.fsum(s.load_w for s in inside) * h,
        "generated_kwh": math.fsum(s.pv_w for s in inside) * h,
        "charged_kwh": math.fsum(max(-s.battery_w, 0) for s in inside) * h,
        "discharged_kwh": math.fsum(max(s.battery_w, 0) for s in inside) * h,
        "imported_kwh": math.fsum(max(s.grid_w, 0) for s in inside) * h,
        "exported_kwh": math.fsum(max(-s.grid_w, 0) for s in inside) * h,
    }


@pytest.mark.asyncio
async def test_hours_and_days_match_the_samples(client: httpx.AsyncClient) -> None:
    items = samples(MARCH_START_S, MARCH_START_S + 2 * 86_400)
    r = await client.get(URL, params=QUERY, headers=GRANTED)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bucket"] == "hour"
    assert len(body["series"]) == 24
    tenth = body["series"][10]
    assert tenth["start_s"] == DAY_START_S + 10 * 3600
    for name, expected in integrate(items, tenth["start_s"], tenth["start_s"] + 3600).items():
        assert tenth[name] == pytest.approx(expected, rel=1e-9, abs=1e-9), name
    whole = integrate(items, DAY_START_S, DAY_START_S + 86_400)
    for name, expected in whole.items():
        assert body["totals"][name] == pytest.approx(expected, rel=1e-9), name
    assert body["totals"]["stored_kwh"] == pytest.approx(
        whole["charged_kwh"] - whole["discharged_kwh"]
    )
    assert whole["charged_kwh"] > 0 and whole["exported_kwh"] > 0  # the day exercises both

    r = await client.get(
        URL,
        params={
            **QUERY,
            "from": "2026-02-28T12:00:00Z",
            "to": "2026-03-03T00:00:00Z",
            "bucket": "day",
        },
        headers=GRANTED,
    )
    assert r.status_code == 200, r.text
    days = r.json()["series"]
    # Feb 28th holds the samples' first UTC hour; March 2nd all but its last.
    assert [d["start_s"] for d in days] == [DAY_START_S - 86_400, DAY_START_S, DAY_START_S + 86_400]
    assert days[1]["consumed_kwh"] == pytest.approx(whole["consumed_kwh"], rel=1e-9)


@pytest.mark.asyncio
async def test_grants_and_bad_input(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL, params=QUERY)).status_code == 401
    assert (await client.get(URL, params=QUERY, headers=OTHER)).status_code == 404
    for bad, field in [
        ({"bucket": "week"}, "bucket"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-03-01T00:00:00"}, "to"),  # no zone
        ({"to": "2026-02-01T00:00:00Z"}, "to"),  # before from
        ({"to": "2028-03-01T00:00:00Z"}, "to"),  # too long
        ({"edge_id": "Site 1"}, "edge_id"),
        ({"start": "2026-03-01"}, "start"),  # unknown parameter
    ]:
        r = await client.get(URL, params={**QUERY, **bad}, headers=GRANTED)
        assert r.status_code == 422, (bad, r.text)
        assert [e["loc"][-1] for e in r.json()["detail"]] == [field], bad
    assert (await client.get(URL, params=QUERY, headers=GRANTED)).status_code == 200
