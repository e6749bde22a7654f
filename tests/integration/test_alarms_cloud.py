"""Alarms in the real cloud: two ``ems cloud`` processes, a real Redis, a real PostgreSQL.

A hand-driven edge (its frames written by the test) on process B; dashboards and
the API on process A. An over-threshold value raises the alarm, seen live on
A's ``/ws/ui``; it is acknowledged over HTTP and clears; the edge moving to A
raises nothing a second time; the raise is mailed to the edge's operators
through a real SMTP server (aiosmtpd on loopback) and, unacknowledged,
escalated to the admins. Waits are on frames and mails, with timeouts.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from websockets.asyncio.client import ClientConnection

from ems.protocol import CLOUD_TO_UI, UiAlarm
from support.processes import free_port
from support.redis import start_redis
from support.site import CloudSite, edge_socket, next_of

EDGE = "alarm-1"
MOVING_EDGE = "alarm-2"
MAILED_EDGE = "alarm-3"
ESCALATE_AFTER_S = 3


@dataclass
class Inbox:
    """What the test's SMTP server received; ``arrived`` is set on each message."""

    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        with self.arrived:
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, subject_part: str, timeout_s: float) -> tuple[list[str], Message]:
        def found() -> tuple[list[str], Message] | None:
            return next((m for m in self.messages if subject_part in m[1]["Subject"]), None)

        with self.arrived:
            if not self.arrived.wait_for(lambda: found() is not None, timeout_s):
                subjects = [m["Subject"] for _, m in self.messages]
                raise AssertionError(f"no mail with {subject_part!r}; got {subjects}")
            message = found()
            assert message is not None
            return message


@dataclass
class Pair:
    a: CloudSite  # dashboards and the API
    b: CloudSite  # the edges, at first
    inbox: Inbox

    def stop(self) -> None:
        self.b.stop()
        self.a.stop()


@pytest.fixture(scope="module")
def pair(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    data = tmp_path_factory.mktemp("alarms")
    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    with start_redis() as redis:
        shared = {
            "EMS_REDIS_URL": redis.url,
            "EMS_DATABASE_URL": postgres_url,
            "EMS_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "EMS_SMTP_FROM": "ems@example.test",
            "EMS_ALARM_ESCALATE_AFTER_S": str(ESCALATE_AFTER_S),
            "EMS_ALARM_UPKEEP_S": "0.5",
        }
        a = CloudSite(data, env={**shared, "EMS_NODE_ID": "alarm-a"})
        b = CloudSite(data, env={**shared, "EMS_NODE_ID": "alarm-b"})
        a.create_accounts((EDGE, MOVING_EDGE, MAILED_EDGE))
        a.create_user("ada", "admin")
        for name, role, edges in (
            ("ops", "operator", (MAILED_EDGE,)),
            ("other", "operator", (EDGE,)),  # not granted the mailed edge
            ("boss", "admin", ()),
        ):
            a.create_user(name, role, edges, email=f"{name}@example.test")
        pair = Pair(a, b, inbox)
        try:
            a.start_cloud()
            b.start_cloud()
            yield pair
        finally:
            pair.stop()
            smtp.stop()


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
        assert isinstance(CLOUD_TO_UI.decode(json.dumps(raised)), UiAlarm)

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


@pytest.mark.asyncio
async def test_a_raise_is_mailed_to_the_edges_operators_then_escalated(pair: Pair) -> None:
    a, b = pair.a, pair.b
    rule = {"rule_id": "low-soc-3", **_rule(MAILED_EDGE)}
    assert _call(a, "POST", "/api/alarm-rules", "ada", rule).status_code == 201
    alarm_id = f"{MAILED_EDGE}.rule.low-soc-3"
    dashboard = await a.ui("olga")
    edge = await HandEdge.connect(b, MAILED_EDGE)
    try:
        await dashboard.send(json.dumps({"type": "subscribe", "edge_id": MAILED_EDGE}))
        await next_of(dashboard, "edge_status", edge_id=MAILED_EDGE)
        await _raise_until_seen(edge, dashboard, alarm_id)

        to, message = await asyncio.to_thread(
            pair.inbox.wait_for, f"low-soc-3 on {MAILED_EDGE}: active_unacked", 15
        )
        assert to == ["ops@example.test"]  # granted the edge, with an address
        assert message["From"] == "ems@example.test"
        assert message["Subject"] == f"[EMS] HIGH alarm low-soc-3 on {MAILED_EDGE}: active_unacked"
        body = message.get_payload()
        assert isinstance(body, str) and f"Alarm:    {alarm_id}" in body and "Value:    4.0" in body

        to, message = await asyncio.to_thread(
            pair.inbox.wait_for,
            f"low-soc-3 on {MAILED_EDGE}: active_unacked (escalated to admin)",
            ESCALATE_AFTER_S + 15,
        )
        assert to == ["boss@example.test"]
        assert alarm_id in str(message.get_payload())
    finally:
        await dashboard.close()
        await edge.ws.close()
    raises = [m for _, m in pair.inbox.messages if "low-soc-3" in m["Subject"]]
    assert len(raises) == 2  # one raise mail, one escalation: not one per process
