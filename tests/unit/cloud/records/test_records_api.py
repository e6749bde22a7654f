"""``GET /api/commands`` and ``GET /api/commands/{command_id}`` on the embedded backends."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ems.audit import AuditTrail
from ems.cloud.api import build_router
from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.cluster import Cluster, ClusterLink
from ems.cloud.hub import Hub
from ems.cloud.records import EdgeTraceIntake, HotRecords, Recorder, SqliteCommandStore
from ems.cloud.shared import Inventories, reset_embedded_server, shared_redis
from ems.cloud.telemetry import SqliteTelemetryStore
from ems.protocol import AuditRecord, EdgeAudit
from support.conformance.records import T0, change, info

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
        cluster=Cluster(ClusterLink(redis, "cloud-1"), hub),
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


def _edge_frame(command_id: str, *steps: tuple[str, str | None, float]) -> EdgeAudit:
    return EdgeAudit(
        type="audit",
        records=[
            AuditRecord(
                id=str(uuid.uuid4()),
                seq=i,
                command_id=command_id,
                event=event,
                status=status,
                at=datetime.fromtimestamp(at, UTC),
            )
            for i, (event, status, at) in enumerate(steps)
        ],
    )


@pytest.mark.asyncio
async def test_the_trace_merges_cloud_and_edge_waypoints_in_time_order(
    api: tuple[httpx.AsyncClient, Recorder],
) -> None:
    client, recorder = api
    c = info()
    recorder.record(change(c, "received", T0))
    cloud = AuditTrail("cloud")
    cloud.listeners.append(recorder.on_audit)
    intake = EdgeTraceIntake(recorder, {c.command_id: "site-1"}.get, cloud, lambda: T0 + 9)
    cloud.record("cloud.received", c.command_id, T0, user="olga", edge_id="site-1")
    cloud.record("cloud.sent", c.command_id, T0 + 0.001, edge_id="site-1", status="sent")
    frame = _edge_frame(
        c.command_id,
        ("edge.received", None, T0 + 0.002),
        ("edge.request_written", "delivered", T0 + 0.003),
        ("controller.executed", "executed", T0 + 0.9),
    )
    assert await intake.accept("site-1", frame) == 3
    assert await intake.accept("site-1", frame) == 3  # a resend after a reconnect
    cloud.record("cloud.acked", c.command_id, T0 + 0.95, edge_id="site-1", status="executed")
    r = await client.get(f"/api/commands/{c.command_id}", headers=VIEWER)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(t["source"], t["event"]) for t in body["trace"]] == [
        ("cloud", "cloud.received"),
        ("cloud", "cloud.sent"),
        ("edge", "edge.received"),
        ("edge", "edge.request_written"),
        ("edge", "controller.executed"),
        ("cloud", "cloud.acked"),
    ]
    assert body["trace"][2]["at"] == "2026-01-01T00:00:00.002000Z"
    assert [h["status"] for h in body["history"]] == ["received"]


@pytest.mark.asyncio
async def test_an_edge_writes_only_into_the_commands_sent_to_it(
    api: tuple[httpx.AsyncClient, Recorder],
) -> None:
    client, recorder = api
    theirs, stored, unknown = info(), info(edge_id="site-2"), str(uuid.uuid4())
    recorder.record(change(stored, "received", T0))  # known from the records only
    cloud = AuditTrail("cloud")
    cloud.listeners.append(recorder.on_audit)
    intake = EdgeTraceIntake(recorder, {theirs.command_id: "site-1"}.get, cloud, lambda: T0)
    for cid in (theirs.command_id, unknown):
        frame = _edge_frame(cid, ("controller.executed", "executed", T0))
        assert await intake.accept("site-2", frame) == 0
    ok = _edge_frame(stored.command_id, ("controller.executed", "executed", T0))
    assert await intake.accept("site-2", ok) == 1
    assert (intake.accepted, intake.refused) == (1, 2)
    # ``theirs`` has no record here (404): its trace is read through the recorder.
    entries = await recorder.trace(theirs.command_id)
    assert [(e.source, e.event, e.reason) for e in entries] == [
        ("cloud", "cloud.trace_refused", "forbidden")
    ]
    body = (await client.get(f"/api/commands/{stored.command_id}", headers=VIEWER)).json()
    assert [(t["source"], t["event"]) for t in body["trace"]] == [("edge", "controller.executed")]
