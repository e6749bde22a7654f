"""``ems cloud`` and ``ems edge`` as real processes: dispatch, refusals, bad frames, telemetry.

Runs once on the embedded stores (SQLite, the in-process Redis) and once on a
real PostgreSQL and a real redis-server that the test run starts.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from support.site import CloudSite, command, edge_ack, edge_socket, next_of
from support.tokens import forged_tokens as forge
from support.tokens import valid_token

#: The site as the tests see it: one ``ems cloud``, ``olga`` (operator) and ``vic``
#: (viewer), site-1 connected and reporting, site-2 known (its devices) but offline.
Site = CloudSite


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    env: dict[str, str] = {"EMS_QUEUE_LIMIT": "5"}
    if request.param == "postgres":  # the production stores: PostgreSQL and a real Redis
        env["EMS_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env["EMS_REDIS_URL"] = request.getfixturevalue("redis_url")
    site = CloudSite(tmp_path_factory.mktemp(f"cloud-{request.param}"), env=env)
    site.create_accounts(("site-1", "site-2"))
    try:
        cloud = site.start_cloud()
        # site-2 connects once (so the cloud knows its devices) and goes away.
        assert site.start_edge("site-2").stop() == 0
        site.edges.pop("site-2")
        cloud.wait_for("edge site-2 disconnected", 30)
        site.start_edge("site-1")
        asyncio.run(site.first_telemetry())  # dynamic limits need the edge's first report
        yield site
    finally:
        site.stop()


@pytest.mark.asyncio
async def test_full_lifecycle_in_order(site: Site) -> None:
    ws = await site.ui()
    try:
        cmd = command(value=-1500)
        await ws.send(json.dumps(cmd))
        statuses = [
            (await next_of(ws, "ack", command_id=cmd["command_id"]))["status"] for _ in range(3)
        ]
        assert statuses == ["received", "delivered", "executed"]
    finally:
        await ws.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("changes", "user", "reason"),
    [
        ({"value": "1000"}, "olga", "invalid_payload"),
        ({"action": "set_mode", "value": "turbo"}, "olga", "invalid_payload"),
        ({}, "vic", "forbidden"),
        ({"edge_id": "site-9"}, "olga", "unknown_edge"),
        ({"device": "battery_9"}, "olga", "unknown_device"),
        ({"action": "fly"}, "olga", "unknown_action"),
        ({"value": 2_000_000}, "olga", "out_of_range"),
        ({"value": {"watts": 5}}, "olga", "invalid_payload"),
        ({"ttl_s": 99_999}, "olga", "invalid_payload"),
    ],
)
async def test_every_reject_reason(
    site: Site, changes: dict[str, Any], user: str, reason: str
) -> None:
    ws = await site.ui(user)
    try:
        cmd = command(**changes)
        await ws.send(json.dumps(cmd))
        ack = await next_of(ws, "ack", command_id=cmd["command_id"])
        assert (ack["status"], ack["reason"]) == ("rejected", reason), ack
        assert ack["edge_id"] == cmd["edge_id"]
        assert ack["detail"]
    finally:
        await ws.close()


@pytest.mark.asyncio
async def test_replayed_command_id_is_rejected_and_not_run_twice(site: Site) -> None:
    ws = await site.ui()
    try:
        cmd = command(value=-700)
        await ws.send(json.dumps(cmd))
        await next_of(ws, "ack", command_id=cmd["command_id"], status="executed")
        await ws.send(json.dumps(cmd))
        ack = await next_of(ws, "ack", command_id=cmd["command_id"])
        assert (ack["status"], ack["reason"]) == ("rejected", "replay")
    finally:
        await ws.close()


@pytest.mark.asyncio
async def test_acks_reach_every_socket_of_the_user(site: Site) -> None:
    first, second = await site.ui(), await site.ui()
    try:
        cmd = command(value=-900)
        await first.send(json.dumps(cmd))
        for ws in (first, second):
            assert await next_of(ws, "ack", command_id=cmd["command_id"], status="executed")
    finally:
        await first.close()
        await second.close()


@pytest.mark.asyncio
async def test_bad_frames_get_errors_and_the_socket_keeps_working(site: Site) -> None:
    ws = await site.ui()
    try:
        for raw, code in [
            ("{not json", "malformed_json"),
            (json.dumps({"type": "teleport"}), "unknown_type"),
            (json.dumps({"type": "subscribe", "edge_id": "site-1", "extra": 1}), "invalid_payload"),
            (json.dumps({"type": "subscribe", "edge_id": 7}), "invalid_payload"),
            (
                json.dumps({"type": "subscribe", "edge_id": "x'; DROP TABLE telemetry;--"}),
                "invalid_payload",
            ),
        ]:
            await ws.send(raw)
            error = await next_of(ws, "error")
            assert error["code"] == code, (raw, error)
        await ws.send(json.dumps({"type": "subscribe", "edge_id": "site-1"}))
        status = await next_of(ws, "edge_status")
        assert status["online"] is True
        frame = await next_of(ws, "telemetry")
        assert "battery_1/Soc" in frame["channels"]
    finally:
        await ws.close()


# -- tokens -------------------------------------------------------------------
async def until_closed(ws: ClientConnection, timeout_s: float = 10.0) -> tuple[list[Any], int]:
    """Every frame received until the server closes; and its close code (-1: no close frame)."""
    frames: list[Any] = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout_s)))
    except ConnectionClosed as closed:
        return frames, -1 if closed.rcvd is None else closed.rcvd.code


def forged_tokens(site: Site) -> dict[str, str]:
    return {**forge(site.data, site.http("")), "garbage": "not.a.token"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "bad_signature",
        "wrong_audience",
        "wrong_issuer",
        "alg_none",
        "hs256_with_public_key",
        "garbage",
    ],
)
@pytest.mark.parametrize("how", ["query", "first_frame"])
async def test_bad_tokens_are_refused_with_4401(site: Site, case: str, how: str) -> None:
    bad = forged_tokens(site)[case]
    url = site.ws(f"/ws/ui?token={bad}" if how == "query" else "/ws/ui")
    async with connect(url) as ws:
        if how == "first_frame":
            await ws.send(json.dumps({"type": "auth", "token": bad}))
        frames, code = await until_closed(ws)
    assert all(f["type"] != "auth_ok" for f in frames), f"{case} was accepted"
    assert code == 4401


@pytest.mark.asyncio
async def test_a_valid_forged_looking_token_control(site: Site) -> None:
    """The forging helpers are right: the same claims signed with the real key pass."""
    good = valid_token(site.data, site.http(""))
    async with connect(site.ws(f"/ws/ui?token={good}")) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"


@pytest.mark.asyncio
async def test_a_listening_socket_is_closed_when_its_token_expires(site: Site) -> None:
    now = time.time()
    short = valid_token(site.data, site.http(""), iat=now, nbf=now, exp=now + 2)
    async with connect(site.ws(f"/ws/ui?token={short}")) as ws:
        frames, code = await until_closed(ws, timeout_s=10)
    assert frames[0]["type"] == "auth_ok"
    assert code == 4401


@pytest.mark.asyncio
async def test_no_auth_within_the_timeout_or_wrong_first_frame(site: Site) -> None:
    async with connect(site.ws("/ws/ui")) as ws:
        await ws.send(json.dumps({"type": "subscribe", "edge_id": "site-1"}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


# -- edges ----------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize("which", ["wrong_key", "other_edges_key", "unknown_edge"])
async def test_edge_refused_with_a_wrong_key(site: Site, which: str) -> None:
    key2 = site.key("site-2")
    edge_id, key = {
        "wrong_key": ("site-2", "ems_nope_" + "0" * 43),
        "other_edges_key": ("site-1", key2),
        "unknown_edge": ("site-77", key2),
    }[which]
    ws = await edge_socket(site, edge_id, key)
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@pytest.mark.asyncio
async def test_telemetry_is_stored_acked_and_read_back(site: Site) -> None:
    """A second connection of site-2 sends one known frame; the history endpoint returns it."""
    key = site.key("site-2")
    ws = await edge_socket(site, "site-2", key)
    try:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"
        at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        stamp = at.isoformat().replace("+00:00", "Z")
        frame = {
            "type": "telemetry",
            "seq": 41,
            "ts": stamp,
            "channels": {
                "battery_1/Soc": {"v": 61.5, "t": stamp},
                "battery_1/State": {"v": "idle", "t": stamp},
            },
        }
        await ws.send(json.dumps(frame))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack == {"type": "telemetry_ack", "seq": 41}
        await ws.send(
            json.dumps({"type": "telemetry", "seq": 42, "ts": stamp, "channels": {}, "x": 1})
        )
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert (error["type"], error["code"]) == ("error", "invalid_payload")
    finally:
        await ws.close()
    async with httpx.AsyncClient() as client:
        r = await client.get(
            site.http("/api/edges/site-2/telemetry"),
            params={
                "channel": "battery_1/Soc",
                "start": (at - timedelta(minutes=1)).isoformat(),
                "end": (at + timedelta(minutes=1)).isoformat(),
            },
            headers={"Authorization": f"Bearer {site.token('vic')}"},
        )
    assert r.status_code == 200, r.text
    points = r.json()["channels"]["battery_1/Soc"]
    assert len(points) == 1
    assert points[0]["avg"] == 61.5


@pytest.mark.asyncio
async def test_a_new_connection_of_an_edge_replaces_the_old_one(site: Site) -> None:
    key = site.key("site-2")
    first = await edge_socket(site, "site-2", key)
    assert json.loads(await asyncio.wait_for(first.recv(), 5))["type"] == "auth_ok"
    second = await edge_socket(site, "site-2", key)
    try:
        assert json.loads(await asyncio.wait_for(second.recv(), 5))["type"] == "auth_ok"
        _, code = await until_closed(first)
        assert code == 4409, "the older connection is closed as replaced"
        await second.send(
            json.dumps(
                {"type": "inventory", "devices": [{"id": "battery_1", "profile": "battery"}]}
            )
        )
        headers = {"Authorization": f"Bearer {site.token('vic')}"}
        async with httpx.AsyncClient() as client:
            edges = (await client.get(site.http("/api/edges"), headers=headers)).json()["edges"]
        assert {e["edge_id"]: e["online"] for e in edges}["site-2"] is True
    finally:
        await second.close()


@pytest.mark.asyncio
async def test_setpoint_beyond_the_batterys_current_limit(site: Site) -> None:
    ws = await site.ui()
    try:
        cmd = command(value=-60_000)  # within the static range, beyond what the battery takes
        await ws.send(json.dumps(cmd))
        ack = await next_of(ws, "ack", command_id=cmd["command_id"])
        assert (ack["status"], ack["reason"]) == ("rejected", "exceeds_dynamic_limit")
        assert "outside the current limits" in ack["detail"]
        assert "W" in ack["detail"]
    finally:
        await ws.close()


@pytest.mark.asyncio
async def test_dynamic_limits_from_an_edges_telemetry_and_the_watchdog(site: Site) -> None:
    """A hand-driven site-2: no telemetry, stale telemetry, a tight limit, then silence."""
    key = site.key("site-2")
    edge = await edge_socket(site, "site-2", key)
    ws = await site.ui()
    try:
        assert json.loads(await asyncio.wait_for(edge.recv(), 5))["type"] == "auth_ok"
        await edge.send(
            json.dumps(
                {"type": "inventory", "devices": [{"id": "battery_1", "profile": "battery"}]}
            )
        )

        async def verdict(value: float) -> dict[str, Any]:
            cmd = command(edge_id="site-2", value=value)
            await ws.send(json.dumps(cmd))
            return await next_of(ws, "ack", command_id=cmd["command_id"])

        async def report(age_s: float, max_charge_w: float) -> None:
            at = (datetime.now(UTC) - timedelta(seconds=age_s)).isoformat()
            await edge.send(
                json.dumps(
                    {
                        "type": "telemetry",
                        "seq": int(time.time() * 1000),
                        "ts": at,
                        "channels": {
                            "battery_1/MaxChargePower": {"v": max_charge_w, "t": at},
                            "battery_1/MaxDischargePower": {"v": 3000.0, "t": at},
                        },
                    }
                )
            )
            assert json.loads(await asyncio.wait_for(edge.recv(), 10))["type"] == "telemetry_ack"

        assert (await verdict(-500))["reason"] == "no_telemetry"
        await report(age_s=60, max_charge_w=4000)
        stale = await verdict(-500)
        assert stale["reason"] == "stale_telemetry"
        await report(age_s=0, max_charge_w=1000)
        over = await verdict(-1500)
        assert over["reason"] == "exceeds_dynamic_limit"
        assert "[-1000, 3000] W" in over["detail"]
        ok = await verdict(-500)
        assert ok["status"] == "received"
        sent = json.loads(await asyncio.wait_for(edge.recv(), 5))
        assert (sent["type"], sent["value"], sent["user"]) == ("command", -500, "olga")
        deadline = datetime.fromisoformat(sent["deadline"])
        assert 3 <= (deadline - datetime.now(UTC)).total_seconds() <= 6
        # The hand-driven edge never answers: the watchdog fails it once.
        timed_out = await next_of(ws, "ack", timeout_s=10, command_id=ok["command_id"])
        assert (timed_out["status"], timed_out["reason"]) == ("failed", "edge_timeout")
        # A late final ack is only audited, never a second final status.
        await edge_ack(edge, ok["command_id"], "executed")
        assert site.cloud is not None
        site.cloud.wait_for(f"command {ok['command_id']} cloud.late_ack", 10)
        with pytest.raises(TimeoutError):
            await next_of(ws, "ack", timeout_s=1.5, command_id=ok["command_id"])
    finally:
        await ws.close()
        await edge.close()


def test_profiles_are_served(site: Site) -> None:
    battery = httpx.get(site.http("/api/profiles/battery")).json()
    assert battery["actions"]["set_active_power"]["output"] == "SetActivePower"
    assert httpx.get(site.http("/api/profiles/warp_drive")).status_code == 404
    assert httpx.get(site.http("/docs")).status_code == 200
    assert httpx.get(site.http("/openapi.json")).json()["info"]["title"] == "EMS cloud"


def test_history_needs_a_token(site: Site) -> None:
    r = httpx.get(site.http("/api/edges/site-1/telemetry"), params={"channel": "battery_1/Soc"})
    assert r.status_code == 401
    assert httpx.get(site.http("/api/profiles")).json()["profiles"]["battery"]["type"] == "battery"
    assert httpx.get(site.http("/healthz")).json()["status"] == "ok"


# -- offline edges: the queue -----------------------------------------------------
async def drive_edge(edge: ClientConnection, count: int) -> list[dict[str, Any]]:
    """Play the edge: take ``count`` commands, answer delivered then executed for each."""
    got = []
    while len(got) < count:
        frame = json.loads(await asyncio.wait_for(edge.recv(), 10))
        if frame["type"] != "command":
            continue
        got.append(frame)
        for status in ("delivered", "executed"):
            await edge_ack(edge, frame["command_id"], status)
    return got


@pytest.mark.asyncio
async def test_offline_edge_queues_then_delivers_in_order(site: Site) -> None:
    ws = await site.ui()
    try:
        cmds = [command(edge_id="site-2", value=-100.0 * (i + 1)) for i in range(3)]
        for position, cmd in enumerate(cmds, start=1):
            await ws.send(json.dumps(cmd))
            ack = await next_of(ws, "ack", command_id=cmd["command_id"])
            assert ack["status"] == "queued"
            assert f"position {position}" in ack["detail"]
        key = site.key("site-2")
        edge = await edge_socket(site, "site-2", key)
        try:
            sent = await drive_edge(edge, 3)
        finally:
            await edge.close()
        assert [f["command_id"] for f in sent] == [c["command_id"] for c in cmds], "FIFO"
        for cmd in cmds:
            delivered = await next_of(ws, "ack", command_id=cmd["command_id"])
            executed = await next_of(ws, "ack", command_id=cmd["command_id"])
            assert (delivered["status"], executed["status"]) == ("delivered", "executed")
    finally:
        await ws.close()


@pytest.mark.asyncio
async def test_queued_command_expires_without_any_reconnect(site: Site) -> None:
    ws = await site.ui()
    try:
        cmd = command(edge_id="site-2", ttl_s=1)
        await ws.send(json.dumps(cmd))
        assert (await next_of(ws, "ack", command_id=cmd["command_id"]))["status"] == "queued"
        failed = await next_of(ws, "ack", timeout_s=5, command_id=cmd["command_id"])
        assert (failed["status"], failed["reason"]) == ("failed", "timeout_in_queue")
    finally:
        await ws.close()


@pytest.mark.asyncio
async def test_a_full_queue_refuses_more(site: Site) -> None:
    ws = await site.ui()
    try:
        fillers = [command(edge_id="site-2", ttl_s=2) for _ in range(5)]  # EMS_QUEUE_LIMIT=5
        for cmd in fillers:
            await ws.send(json.dumps(cmd))
            assert (await next_of(ws, "ack", command_id=cmd["command_id"]))["status"] == "queued"
        extra = command(edge_id="site-2")
        await ws.send(json.dumps(extra))
        ack = await next_of(ws, "ack", command_id=extra["command_id"])
        assert (ack["status"], ack["reason"]) == ("rejected", "queue_full")
        for cmd in fillers:  # they expire, leaving the queue empty for other tests
            done = await next_of(ws, "ack", timeout_s=10, command_id=cmd["command_id"])
            assert done["reason"] == "timeout_in_queue"
    finally:
        await ws.close()
