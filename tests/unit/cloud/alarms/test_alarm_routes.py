"""``/api/alarm-rules`` and ``/api/alarms`` in process: roles, grants, bad input refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from alarm_cloud import Cloud, frame
from fastapi import FastAPI

from ems.cloud.alarms.routes import alarm_router
from ems.cloud.auth.jwt import AuthError, Claims

# token -> (role, granted edges; None: all)
USERS: dict[str, tuple[str, frozenset[str] | None]] = {
    "ada": ("admin", None),
    "olga": ("operator", frozenset({"site-1"})),
    "vic": ("viewer", frozenset({"site-1"})),
    "otto": ("operator", frozenset({"site-2"})),
}
RULE = {"edge_id": "site-1", "channel": "battery_1/Soc", "operator": "<", "threshold": 10}
ALARM = "site-1.rule.low"


async def verify(token: str) -> Claims:
    if token not in USERS:
        raise AuthError("invalid_token", "unknown")
    role, edges = USERS[token]
    return Claims(token, role, 1, 2e9, 0.0, "jti", edges)


@pytest_asyncio.fixture
async def http(cloud: Cloud) -> AsyncIterator[httpx.AsyncClient]:
    service = await cloud.process()
    app = FastAPI()
    app.include_router(alarm_router(service, verify))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cloud") as client:
        yield client


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {user}"}


@pytest.mark.asyncio
async def test_rules_need_an_admin_and_a_valid_body(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/alarm-rules", json=RULE, headers=auth("olga"))
    assert (r.status_code, r.json()["reason"]) == (403, "forbidden")
    r = await http.post("/api/alarm-rules", content=b"{not json", headers=auth("ada"))
    assert (r.status_code, r.json()["reason"]) == (422, "invalid_payload")
    r = await http.post("/api/alarm-rules", json=[1, 2], headers=auth("ada"))
    assert (r.status_code, r.json()["reason"]) == (422, "invalid_rule")
    r = await http.post("/api/alarm-rules", json={**RULE, "extra": 1}, headers=auth("ada"))
    assert (r.status_code, r.json()["field"]) == (422, "extra")
    r = await http.post("/api/alarm-rules", json={**RULE, "operator": ">="}, headers=auth("ada"))
    assert (r.status_code, r.json()["reason"], r.json()["field"]) == (
        422,
        "invalid_rule",
        "operator",
    )
    r = await http.put("/api/alarm-rules/nope", json=RULE, headers=auth("ada"))
    assert (r.status_code, r.json()["reason"]) == (404, "unknown_rule")

    r = await http.post("/api/alarm-rules", json={"rule_id": "low", **RULE}, headers=auth("ada"))
    assert r.status_code == 201 and r.json()["rule_id"] == "low"
    r = await http.post("/api/alarm-rules", json={"rule_id": "low", **RULE}, headers=auth("ada"))
    assert (r.status_code, r.json()["reason"]) == (422, "rule_exists")
    r = await http.put("/api/alarm-rules/low", json={**RULE, "threshold": 8}, headers=auth("ada"))
    assert r.status_code == 200 and r.json()["threshold"] == 8
    listed = (await http.get("/api/alarm-rules", headers=auth("vic"))).json()["rules"]
    assert [x["rule_id"] for x in listed] == ["low"]
    assert (await http.get("/api/alarm-rules", headers=auth("otto"))).json()["rules"] == []
    r = await http.get("/api/alarm-rules?edgeid=site-1", headers=auth("vic"))
    assert r.status_code == 422  # a misspelt filter is refused, not ignored
    r = await http.delete("/api/alarm-rules/low", headers=auth("ada"))
    assert r.status_code == 200
    assert (await http.get("/api/alarm-rules", headers=auth("ada"))).json()["rules"] == []


@pytest.mark.asyncio
async def test_alarm_commands_by_role_and_grant(cloud: Cloud, http: httpx.AsyncClient) -> None:
    [service] = cloud.services
    await service.put_rule("low", {**RULE, "severity": "high"}, "ada", create=True)
    service.frame("site-1", frame(cloud.clock, battery_1__Soc=3.0))
    await service.settle()

    alarms = (await http.get("/api/alarms?state=active_unacked", headers=auth("vic"))).json()
    assert [(x["alarm_id"], x["value"]) for x in alarms["alarms"]] == [(ALARM, 3.0)]
    assert (await http.get("/api/alarms", headers=auth("otto"))).json()["alarms"] == []
    r = await http.post(f"/api/alarms/{ALARM}/ack", headers=auth("otto"))
    assert (r.status_code, r.json()["reason"]) == (404, "alarm_not_found")  # as if absent
    r = await http.post(f"/api/alarms/{ALARM}/ack", headers=auth("vic"))
    assert (r.status_code, r.json()["reason"]) == (403, "forbidden")
    r = await http.post("/api/alarms/site-1.rule.none/ack", headers=auth("olga"))
    assert r.status_code == 404

    for body, field in (
        ({"until": "tomorrow", "reason": "x"}, "until"),
        ({"until": "2020-01-01T00:00:00Z", "reason": "x"}, "until"),
        ({"until": "2026-01-01T05:00:00Z", "reason": " "}, "reason"),
        ({"until": "2026-03-01T00:00:00Z", "reason": "x"}, "until"),
    ):
        r = await http.post(f"/api/alarms/{ALARM}/shelve", json=body, headers=auth("olga"))
        assert (r.status_code, r.json()["field"]) == (422, field), r.json()
    r = await http.post(f"/api/alarms/{ALARM}/unshelve", headers=auth("olga"))
    assert (r.status_code, r.json()["reason"]) == (409, "not_shelved")

    shelve = {"until": "2026-01-01T05:00:00Z", "reason": "sensor swap"}
    r = await http.post(f"/api/alarms/{ALARM}/shelve", json=shelve, headers=auth("olga"))
    assert r.status_code == 200 and r.json()["state"] == "shelved"
    r = await http.post(f"/api/alarms/{ALARM}/ack", headers=auth("olga"))
    assert (r.status_code, r.json()["reason"]) == (409, "alarm_shelved")
    r = await http.post(f"/api/alarms/{ALARM}/unshelve", headers=auth("ada"))
    assert r.status_code == 200 and r.json()["state"] == "active_unacked"

    record = (await http.get(f"/api/alarms/{ALARM}", headers=auth("vic"))).json()
    assert [(h["to"], h["by"]) for h in record["history"]] == [
        ("active_unacked", "system"),
        ("shelved", "olga"),
        ("active_unacked", "ada"),
    ]
