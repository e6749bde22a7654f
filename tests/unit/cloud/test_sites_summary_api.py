"""``GET /api/sites/summary``: one answer with every granted site's status, newest site
totals and active alarms; other sites are left out; a site that never sent a value
shows null, not 0."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ems.alarms import Alarm, AlarmState
from ems.alarms.rules import Severity
from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.sites_summary_api import build_sites_summary_router
from ems.cloud.telemetry import SqliteTelemetryStore, TelemetryRow
from ems.protocol import EdgeStatus

URL = "/api/sites/summary"
NOW_S = 1_780_000_000.0


async def verify(token: str) -> Claims:
    now = time.time()
    edges = {"two": frozenset({"site-1", "site-2"}), "one": frozenset({"site-2"})}.get(token)
    if edges is None:
        raise AuthError("invalid_token", "not a token")
    return Claims("vic", "viewer", 2, now + 300, now, str(uuid.uuid4()), edges)


class Fleet:
    async def known_edges(self) -> list[str]:
        return ["site-1", "site-2", "site-3"]

    async def statuses(self, edge_ids: Sequence[str]) -> dict[str, EdgeStatus]:
        table = {
            "site-1": EdgeStatus(edge_id="site-1", online=True, last_seen=None),
            "site-2": EdgeStatus(edge_id="site-2", online=True, stale=True, last_seen=None),
            "site-3": EdgeStatus(edge_id="site-3", online=False, last_seen=None),
        }
        return {e: table[e] for e in edge_ids}


async def alarms() -> list[Alarm]:
    return [
        Alarm("site-1.rule.hot", "site-1", "hot", Severity.HIGH, AlarmState.ACTIVE_UNACKED),
        Alarm("site-1.rule.old", "site-1", "old", Severity.LOW, AlarmState.CLEARED),
        Alarm(
            "site-3.edge_offline", "site-3", "edge_offline", Severity.HIGH, AlarmState.ACTIVE_ACKED
        ),
    ]


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = SqliteTelemetryStore(tmp_path / "telemetry.sqlite3")
    await store.start()
    await store.write(
        [
            TelemetryRow(NOW_S - 2, "site-1", "_sum/ProductionActivePower", 1000.0, None),
            TelemetryRow(NOW_S, "site-1", "_sum/ProductionActivePower", 3200.0, None),
            TelemetryRow(NOW_S, "site-1", "_sum/GridActivePower", -800.0, None),
            TelemetryRow(NOW_S, "site-1", "_sum/EssSoc", 61.5, None),
            TelemetryRow(NOW_S, "site-1", "battery_1/ActivePower", 5.0, None),
        ]
    )
    app = FastAPI()
    app.include_router(build_sites_summary_router(Fleet(), store.latest, alarms, verify))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cloud"
    ) as c:
        yield c
    await store.close()


@pytest.mark.asyncio
async def test_granted_sites_with_values_and_active_alarms(client: httpx.AsyncClient) -> None:
    r = await client.get(URL, headers={"Authorization": "Bearer two"})
    assert r.status_code == 200, r.text
    sites = {s["edge_id"]: s for s in r.json()["sites"]}
    assert set(sites) == {"site-1", "site-2"}  # site-3 is not granted
    one, two = sites["site-1"], sites["site-2"]
    assert one["online"] and not one["stale"]
    assert one["values"]["pv_w"] == {"value": 3200.0, "time_s": NOW_S}
    assert one["values"]["grid_w"]["value"] == -800.0
    assert one["values"]["soc_pct"]["value"] == 61.5
    assert one["values"]["load_w"] is None  # never sent: null, not 0
    assert [a["alarm_id"] for a in one["active_alarms"]] == ["site-1.rule.hot"]
    assert two["stale"] and two["active_alarms"] == []
    assert all(v is None for v in two["values"].values())

    r = await client.get(URL, headers={"Authorization": "Bearer one"})
    assert [s["edge_id"] for s in r.json()["sites"]] == ["site-2"]


@pytest.mark.asyncio
async def test_refusals(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL)).status_code == 401
    r = await client.get(URL, params={"page": "2"}, headers={"Authorization": "Bearer one"})
    assert r.status_code == 422
    assert [e["loc"][-1] for e in r.json()["detail"]] == ["page"]
