"""Two ``ems cloud`` processes on one Redis and one PostgreSQL (DESIGN section 7).

Process A serves the dashboards, process B holds the edges: every command,
ack, status and live frame crosses between them through Redis. Real
processes, a real ``redis-server`` of this module's own, a real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from support.redis import start_redis
from support.site import PASSWORD, CloudSite, command, edge_ack, edge_socket, next_of

# Edge ids of this module's own: the session's PostgreSQL is shared with other modules.
EDGE = "scale-1"
OFFLINE_EDGE = "scale-2"


@dataclass
class Pair:
    a: CloudSite  # dashboards here
    b: CloudSite  # edges here

    def stop(self) -> None:
        self.b.stop()
        self.a.stop()


@pytest.fixture(scope="module")
def pair(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    data = tmp_path_factory.mktemp("scale-out")
    with start_redis() as redis:
        shared = {"EMS_REDIS_URL": redis.url, "EMS_DATABASE_URL": postgres_url}
        a = CloudSite(data, env={**shared, "EMS_NODE_ID": "cloud-a"})
        b = CloudSite(data, env={**shared, "EMS_NODE_ID": "cloud-b"})
        a.create_accounts((EDGE, OFFLINE_EDGE))
        pair = Pair(a, b)
        try:
            a.start_cloud()
            b.start_cloud()
            # The offline edge reports its devices once, then goes away.
            assert b.start_edge(OFFLINE_EDGE).stop() == 0
            b.edges.pop(OFFLINE_EDGE)
            assert b.cloud is not None
            b.cloud.wait_for(f"edge {OFFLINE_EDGE} disconnected", 30)
            b.start_edge(EDGE)
            asyncio.run(a.first_telemetry(EDGE))  # crossed over from B: limits are known
            yield pair
        finally:
            pair.stop()


def _get(site: CloudSite, path: str) -> httpx.Response:
    token = site.token("olga")
    return httpx.get(site.http(path), headers={"Authorization": f"Bearer {token}"})


@pytest.mark.asyncio
async def test_command_from_a_dashboard_on_one_process_runs_on_an_edge_held_by_the_other(
    pair: Pair,
) -> None:
    ws = await pair.a.ui()
    try:
        await ws.send(json.dumps({"type": "subscribe", "edge_id": EDGE}))
        status = await next_of(ws, "edge_status", edge_id=EDGE)
        assert status["online"] is True  # held by B, known to A through the registry
        live = await next_of(ws, "telemetry", timeout_s=10, edge_id=EDGE)
        assert "battery_1/ActivePower" in live["channels"]

        cmd = command(edge_id=EDGE, value=-1500)
        await ws.send(json.dumps(cmd))
        seen = []
        for _ in range(3):
            ack = await next_of(ws, "ack", timeout_s=10, command_id=cmd["command_id"])
            seen.append((ack["status"], ack["reason"]))
        assert seen == [("received", None), ("delivered", None), ("executed", None)]

        # The setpoint is what the battery on B's edge now does, seen live on A.
        async def battery_power() -> float:
            frame = await next_of(ws, "telemetry", timeout_s=10, edge_id=EDGE)
            value: float = frame["channels"]["battery_1/ActivePower"]["v"]
            return value

        for _ in range(10):
            if await battery_power() == pytest.approx(-1500, abs=1):
                break
        else:
            pytest.fail("the battery never took the setpoint")
    finally:
        await ws.close()

    # The record, read on either process, holds the statuses written by both.
    for site in (pair.a, pair.b):
        record = _get(site, f"/api/commands/{cmd['command_id']}").json()
        assert [h["status"] for h in record["history"]] == ["received", "delivered", "executed"]
        assert record["user"] == "olga"


@pytest.mark.asyncio
async def test_an_over_limit_setpoint_is_refused_on_the_process_without_the_edge(
    pair: Pair,
) -> None:
    """A judges B's edge by the shared latest-value table."""
    ws = await pair.a.ui()
    try:
        cmd = command(edge_id=EDGE, value=-60_000)  # within the static range
        await ws.send(json.dumps(cmd))
        ack = await next_of(ws, "ack", command_id=cmd["command_id"])
        assert (ack["status"], ack["reason"]) == ("rejected", "exceeds_dynamic_limit")
        assert "outside the current limits" in ack["detail"]
    finally:
        await ws.close()


@pytest.mark.asyncio
async def test_acks_reach_the_users_dashboards_on_every_process(pair: Pair) -> None:
    on_a, on_b = await pair.a.ui(), await pair.b.ui()
    try:
        cmd = command(edge_id=EDGE, value=-500)
        await on_b.send(json.dumps(cmd))  # sent on B, for the edge B holds
        for ws in (on_a, on_b):
            final = await next_of(ws, "ack", timeout_s=10, command_id=cmd["command_id"])
            while final["status"] not in ("executed", "rejected", "failed"):
                final = await next_of(ws, "ack", timeout_s=10, command_id=cmd["command_id"])
            assert final["status"] == "executed"
    finally:
        await on_a.close()
        await on_b.close()


@pytest.mark.asyncio
async def test_queued_on_one_process_delivered_by_the_other_in_order(pair: Pair) -> None:
    ws = await pair.a.ui()
    try:
        await ws.send(json.dumps({"type": "subscribe", "edge_id": OFFLINE_EDGE}))
        assert (await next_of(ws, "edge_status", edge_id=OFFLINE_EDGE))["online"] is False
        cmds = [command(edge_id=OFFLINE_EDGE, value=v) for v in (-100, -200, -300)]
        for cmd in cmds:
            await ws.send(json.dumps(cmd))
            assert (await next_of(ws, "ack", command_id=cmd["command_id"]))["status"] == "queued"

        pair.b.start_edge(OFFLINE_EDGE)  # connects to B, which drains the queue A filled
        status = await next_of(ws, "edge_status", timeout_s=30, edge_id=OFFLINE_EDGE)
        assert status["online"] is True
        delivered: list[str] = []
        final: dict[str, tuple[str, str | None]] = {}
        while len(final) < len(cmds):
            ack = await next_of(ws, "ack", timeout_s=15, edge_id=OFFLINE_EDGE)
            if ack["status"] == "delivered":
                delivered.append(ack["command_id"])
            else:
                final[ack["command_id"]] = (ack["status"], ack["reason"])
        ids = [c["command_id"] for c in cmds]
        assert delivered == ids  # FIFO across processes
        assert list(final) == ids
        # Delivered in one burst, an earlier setpoint may be replaced before a cycle
        # takes it (DESIGN section 4); the newest always runs.
        assert final[ids[-1]] == ("executed", None)
        for command_id in ids[:-1]:
            assert final[command_id] in (("executed", None), ("failed", "superseded"))
    finally:
        await ws.close()
        edge = pair.b.edges.pop(OFFLINE_EDGE)
        edge.stop()


def test_every_process_lists_the_edges_with_their_status(pair: Pair) -> None:
    for site in (pair.a, pair.b):
        edges = {e["edge_id"]: e for e in _get(site, "/api/edges").json()["edges"]}
        assert edges[EDGE]["online"] is True
        assert edges[EDGE]["last_seen"] is not None
        assert {d["id"] for d in edges[EDGE]["devices"]} >= {"battery_1", "pv_1"}


def test_the_same_accounts_work_on_both_processes(pair: Pair) -> None:
    """One auth database and signing key behind both: a token from A is good on B."""
    token = pair.a.token("vic")
    r = httpx.get(pair.b.http("/api/edges"), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert PASSWORD not in r.text


@pytest.mark.asyncio
async def test_an_edge_that_reconnects_to_the_other_process_moves_there(pair: Pair) -> None:
    """The newer socket wins: B closes its stale one (4409), commands follow to A."""
    key = pair.a.key(OFFLINE_EDGE)
    on_b = await edge_socket(pair.b, OFFLINE_EDGE, key)
    assert json.loads(await asyncio.wait_for(on_b.recv(), 5))["type"] == "auth_ok"
    on_a = await edge_socket(pair.a, OFFLINE_EDGE, key)
    ws = await pair.b.ui()  # the dashboard now on B, the edge on A
    try:
        assert json.loads(await asyncio.wait_for(on_a.recv(), 5))["type"] == "auth_ok"
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(on_b.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409
        cmd = command(edge_id=OFFLINE_EDGE, value=-700)
        await ws.send(json.dumps(cmd))
        sent = json.loads(await asyncio.wait_for(on_a.recv(), 10))
        assert (sent["type"], sent["command_id"], sent["value"]) == (
            "command",
            cmd["command_id"],
            -700,
        )
        assert (await next_of(ws, "ack", command_id=cmd["command_id"]))["status"] == "received"
        await edge_ack(on_a, cmd["command_id"], "executed")
        done = await next_of(ws, "ack", timeout_s=10, command_id=cmd["command_id"])
        assert done["status"] == "executed"
    finally:
        await ws.close()
        await on_a.close()
        await on_b.close()
