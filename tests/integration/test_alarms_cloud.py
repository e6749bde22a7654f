"""Alarms in the real cloud: two ``ems cloud`` processes, a real Redis, a real PostgreSQL.

A hand-driven edge (its frames written by the test) on process B; dashboards and
the API on process A. An over-threshold value raises the alarm, seen live on
A's ``/ws/ui``; it is acknowledged over HTTP and clears; the edge moving to A
raises nothing a second time. Waits are on frames, with timeouts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from ems.testing.redis import start_redis
from ems.testing.site import CloudSite, edge_socket, next_of

EDGE = "alarm-1"
MOVING_EDGE = "alarm-2"


@dataclass
class Pair:
    a: CloudSite  # dashboards and the API
    b: CloudSite  # the edges, at first

    def stop(self) -> None:
        self.b.stop()
        self.a.stop()


@pytest.fixture(scope="module")
def pair(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    data = tmp_path_factory.mktemp("alarms")
    with start_redis() as redis:
        shared = {"EMS_REDIS_URL": redis.url, "EMS_DATABASE_URL": postgres_url}
        a = CloudSite(data, env={**shared, "EMS_NODE_ID": "alarm-a"})
        b = CloudSite(data, env={**shared, "EMS_NODE_ID": "alarm-b"})
        a.create_accounts((EDGE, MOVING_EDGE))
        a.create_user("ada", "admin")
        pair = Pair(a, b)
        try:
            a.start_cloud()
            b.start_cloud()
            yield pair
        finally:
            pair.stop()


def _call(site: CloudSite, method: str, path: str, user: str, body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {site.token(user)}"}
    return httpx.request(method, site.http(path), json=body, headers=headers, timeout=10)


def _rule(edge_id: str, **changes: Any) -> dict[str, Any]:
    rule = {
        "edge_id": edge_id,
        "channel": "battery_1/Soc",
        "operator": "<",
        "threshold": 10,
        "for_s": 0,
        "deadband": 5,
        "severity": "high",
    }
    rule.update(changes)
    return rule


class HandEdge:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seq = 0

    @classmethod
    async def connect(cls, site: CloudSite, edge_id: str) -> HandEdge:
        ws = await edge_socket(site, edge_id, site.key(edge_id))
        await next_of(ws, "auth_ok")
        inventory = {"type": "inventory", "devices": [{"id": "battery_1", "profile": "battery"}]}
        await ws.send(json.dumps(inventory))
        return cls(ws)

    async def soc(self, value: float) -> None:
        self.seq += 1
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        frame = {
            "type": "telemetry",
            "seq": self.seq,
            "ts": stamp,
            "channels": {"battery_1/Soc": {"v": value, "t": stamp}},
        }
        await self.ws.send(json.dumps(frame))
        await next_of(self.ws, "telemetry_ack", timeout_s=10, seq=self.seq)


async def _raise_until_seen(
    edge: HandEdge, dashboard: ClientConnection, alarm_id: str
) -> dict[str, Any]:
    """Send low values until the alarm frame arrives: the rule, created on A, reaches
    B's evaluator through Redis a moment after the API answered."""
    for _ in range(20):
        await edge.soc(4.0)
        try:
            return await next_of(dashboard, "alarm", timeout_s=1, alarm_id=alarm_id)
        except TimeoutError:
            continue
    raise AssertionError(f"no alarm frame for {alarm_id}")


@pytest.mark.asyncio
async def test_raised_live_acknowledged_and_cleared_across_processes(pair: Pair) -> None:
    a, b = pair.a, pair.b
    edge = await HandEdge.connect(b, EDGE)
    dashboard = await a.ui("olga")
    try:
        await dashboard.send(json.dumps({"type": "subscribe", "edge_id": EDGE}))
        await next_of(dashboard, "edge_status", edge_id=EDGE)
        await edge.soc(50.0)  # the edge's channels are known from here on

        refused = _call(a, "POST", "/api/alarm-rules", "ada", _rule(EDGE, channel="battery_1/Nope"))
        assert refused.status_code == 422
        assert (refused.json()["reason"], refused.json()["field"]) == ("unknown_channel", "channel")
        bad = _call(a, "POST", "/api/alarm-rules", "ada", _rule(EDGE, threshold="ten"))
        assert (bad.status_code, bad.json()["field"]) == (422, "threshold")
        assert _call(a, "POST", "/api/alarm-rules", "olga", _rule(EDGE)).status_code == 403

        created = _call(a, "POST", "/api/alarm-rules", "ada", {"rule_id": "low-soc", **_rule(EDGE)})
        assert created.status_code == 201, created.text
        alarm_id = f"{EDGE}.rule.low-soc"

        raised = await _raise_until_seen(edge, dashboard, alarm_id)
        assert (raised["state"], raised["severity"], raised["value"]) == (
            "active_unacked",
            "high",
            4.0,
        )
        assert raised["rule"] == "low-soc" and raised["edge_id"] == EDGE

        assert _call(a, "POST", f"/api/alarms/{alarm_id}/ack", "vic").status_code == 403
        acked = _call(a, "POST", f"/api/alarms/{alarm_id}/ack", "olga")
        assert acked.status_code == 200, acked.text
        frame = await next_of(dashboard, "alarm", timeout_s=10, alarm_id=alarm_id)
        assert frame["state"] == "active_acked"
        again = _call(a, "POST", f"/api/alarms/{alarm_id}/ack", "olga")
        assert (again.status_code, again.json()["reason"]) == (409, "already_acknowledged")

        await edge.soc(16.0)  # past threshold + deadband
        frame = await next_of(dashboard, "alarm", timeout_s=10, alarm_id=alarm_id)
        assert (frame["state"], frame["value"]) == ("cleared", 16.0)
    finally:
        await dashboard.close()
        await edge.ws.close()

    record = _call(b, "GET", f"/api/alarms/{alarm_id}", "vic").json()
    assert [(h["from"], h["to"], h["by"]) for h in record["history"]] == [
        ("cleared", "active_unacked", "system"),
        ("active_unacked", "active_acked", "olga"),
        ("active_acked", "cleared", "system"),
    ]
    listed = _call(a, "GET", f"/api/alarms?edge_id={EDGE}&state=cleared", "vic").json()
    assert alarm_id in [x["alarm_id"] for x in listed["alarms"]]
    assert _call(a, "GET", "/api/alarms?state=bogus", "vic").status_code == 422


@pytest.mark.asyncio
async def test_an_edge_moving_between_processes_raises_one_alarm_not_two(pair: Pair) -> None:
    a, b = pair.a, pair.b
    created = _call(
        b, "POST", "/api/alarm-rules", "ada", {"rule_id": "low-soc-2", **_rule(MOVING_EDGE)}
    )
    assert created.status_code == 201, created.text
    alarm_id = f"{MOVING_EDGE}.rule.low-soc-2"
    dashboard = await a.ui("olga")
    try:
        await dashboard.send(json.dumps({"type": "subscribe", "edge_id": MOVING_EDGE}))
        await next_of(dashboard, "edge_status", edge_id=MOVING_EDGE)
        on_b = await HandEdge.connect(b, MOVING_EDGE)
        raised = await _raise_until_seen(on_b, dashboard, alarm_id)
        assert raised["state"] == "active_unacked"

        # The edge moves to A (B's socket is closed), still below the threshold.
        on_a = await HandEdge.connect(a, MOVING_EDGE)
        on_a.seq = on_b.seq
        for _ in range(3):
            await on_a.soc(4.0)
        await on_a.soc(16.0)
        frame = await next_of(dashboard, "alarm", timeout_s=10, alarm_id=alarm_id)
        assert frame["state"] == "cleared_unacked"  # not a second active_unacked
        await on_a.ws.close()
        await on_b.ws.close()
    finally:
        await dashboard.close()

    record = _call(a, "GET", f"/api/alarms/{alarm_id}", "vic").json()
    assert [h["to"] for h in record["history"]] == ["active_unacked", "cleared_unacked"]
