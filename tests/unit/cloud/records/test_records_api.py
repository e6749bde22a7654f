"""``GET /api/commands`` and ``GET /api/commands/{command_id}`` on the embedded backends."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ems.cloud.api import build_router
from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.cluster import Cluster
from ems.cloud.hub import Hub
from ems.cloud.records import HotRecords, Recorder, SqliteCommandStore
from ems.cloud.records.testing import T0, change, info
from ems.cloud.shared import Inventories, reset_embedded_server, shared_redis
from ems.cloud.telemetry import SqliteTelemetryStore

VIEWER = {"Authorization": "Bearer viewer-token"}


async def verify(token: str) -> Claims:
    if token != "viewer-token":
        raise AuthError("invalid_token", "not a token")
    now = time.time()
    return Claims("vic", "viewer", 2, now + 300, now, str(uuid.uuid4()))


@pytest_asyncio.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    reset_embedded_server()
    redis = shared_redis(None)
    store = SqliteCommandStore(tmp_path / "commands.sqlite3")
    await store.start()
    recorder = Recorder(HotRecords(redis), store)
    recorder.start()
    telemetry = SqliteTelemetryStore(tmp_path / "telemetry.sqlite3")  # not started: unused
    app = FastAPI()
    hub = Hub()
    router = build_router(
        hub,
        telemetry,
        verify,
        records=recorder,
        cluster=Cluster(redis, hub, "cloud-1"),
        inventories=Inventories(redis),
    )
    app.include_router(router)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cloud"
    ) as client:
        yield client, recorder
    await recorder.stop()
    await store.close()
    await telemetry.close()
    await redis.aclose()
    reset_embedded_server()


@pytest.mark.asyncio
async def test_one_command_with_its_history(api: tuple[httpx.AsyncClient, Recorder]) -> None:
    client, recorder = api
    c = info(value=-2500)
    for step in [
        change(c, "received", T0, detail="sent to site-1"),
        change(c, "delivered", T0 + 0.5),
        change(c, "executed", T0 + 1),
    ]:
        recorder.record(step)
    r = await client.get(f"/api/commands/{c.command_id}", headers=VIEWER)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(h["status"], h["at"]) for h in body["history"]] == [
        ("received", "2026-01-01T00:00:00.000Z"),
        ("delivered", "2026-01-01T00:00:00.500Z"),
        ("executed", "2026-01-01T00:00:01.000Z"),
    ]
    assert body["history"][0]["detail"] == "sent to site-1"
    assert {k: body[k] for k in ("command_id", "edge_id", "user", "status", "terminal")} == {
        "command_id": c.command_id,
        "edge_id": "site-1",
        "user": "olga",
        "status": "executed",
        "terminal": True,
    }
    assert (body["device"], body["action"], body["value"]) == (
        "battery_1",
        "set_active_power",
        -2500,
    )


@pytest.mark.asyncio
async def test_listing(api: tuple[httpx.AsyncClient, Recorder]) -> None:
    client, recorder = api
    made = [info(created_at=T0 + i) for i in range(4)]
    for c in made:
        recorder.record(change(c, "queued", c.created_at))
    r = await client.get("/api/commands", params={"edge_id": "site-1", "limit": 2}, headers=VIEWER)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["edge_id"] == "site-1"
    assert [x["command_id"] for x in body["commands"]] == [made[3].command_id, made[2].command_id]
    assert all("history" not in x and x["status"] == "queued" for x in body["commands"])
    r = await client.get("/api/commands", params={"edge_id": "site-9"}, headers=VIEWER)
    assert r.json() == {"edge_id": "site-9", "commands": []}


@pytest.mark.asyncio
async def test_unknown_command_is_404(api: tuple[httpx.AsyncClient, Recorder]) -> None:
    client, _ = api
    r = await client.get(f"/api/commands/{uuid.uuid4()}", headers=VIEWER)
    assert r.status_code == 404


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/commands", {"edge_id": "Site_1"}),
        ("/api/commands", {"edge_id": "-site"}),
        ("/api/commands", {"edge_id": "x" * 64}),
        ("/api/commands", {"edge_id": "a:b"}),
        ("/api/commands", {}),
        ("/api/commands", {"edge_id": "site-1", "limit": 0}),
        ("/api/commands", {"edge_id": "site-1", "limit": 1001}),
        ("/api/commands/not-a-uuid", {}),
    ],
)
async def test_malformed_requests_are_422(
    api: tuple[httpx.AsyncClient, Recorder], path: str, params: dict[str, object]
) -> None:
    client, _ = api
    r = await client.get(path, params=params, headers=VIEWER)  # type: ignore[arg-type]
    assert r.status_code == 422, r.text


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/api/commands?edge_id=site-1", f"/api/commands/{uuid.uuid4()}"])
async def test_a_token_is_required(api: tuple[httpx.AsyncClient, Recorder], path: str) -> None:
    client, _ = api
    assert (await client.get(path)).status_code == 401
    bad = {"Authorization": "Bearer forged"}
    assert (await client.get(path, headers=bad)).status_code == 401
