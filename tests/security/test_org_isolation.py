"""Organisations are isolated (DESIGN 16): a user of organisation ``bolt`` tries every
route and every dashboard frame type on things of the ``default`` organisation (a
real edge ``site-1`` with telemetry, a command record, an alarm rule and a raised
alarm) and gets exactly the answer given for something that does not exist.

Table-driven over the cloud's own route list (its OpenAPI document) and the
dashboard's frame types: a new route or frame type without a row here fails.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ems.protocol.codec import UI_TO_CLOUD
from support.site import PASSWORD, CloudSite, command, ems_cli, next_of

OWN = "b-1"  # bolt's edge
THEIRS = "site-1"  # the default organisation's edge
MISSING_EDGE = "no-such-edge"
MISSING_ID = "no-such-thing"
WAIT_S = 30.0


@dataclass(frozen=True)
class World:
    site: CloudSite
    bob: str  # bolt's admin: the strongest role a user of bolt has
    command_id: str  # olga's command to site-1
    rule_id: str
    alarm_id: str
    subscription_id: str  # olga's report e-mail for site-1


def _token(site: CloudSite, username: str) -> str:
    r = httpx.post(site.http("/auth/token"), json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access"])


def _call(
    site: CloudSite, method: str, path: str, token: str, body: Any = None, **params: Any
) -> httpx.Response:
    return httpx.request(
        method,
        site.http(path),
        headers={"Authorization": f"Bearer {token}"},
        params=params,
        json=body,
    )


def _rule(edge_id: str) -> dict[str, Any]:
    # Always over: raises as soon as the edge's battery reports.
    return {"edge_id": edge_id, "channel": "battery_1/Soc", "operator": ">", "threshold": -1}


async def _raise_alarm(site: CloudSite, admin: str) -> tuple[str, str]:
    made = _call(site, "POST", "/api/alarm-rules", admin, _rule(THEIRS))
    assert made.status_code == 201, made.text
    rule_id = str(made.json()["rule_id"])
    alarm_id = f"{THEIRS}.rule.{rule_id}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while loop.time() < deadline:
        if _call(site, "GET", f"/api/alarms/{alarm_id}", admin).status_code == 200:
            return rule_id, alarm_id
        await asyncio.sleep(0.2)  # polling a real process's API, not synchronising a test
    raise AssertionError(f"alarm {alarm_id} never raised")


def _subscription(edge_id: str) -> dict[str, Any]:
    return {"edge_id": edge_id, "period": "month", "recipients": ["olga@example.com"]}


def _olgas_subscription(site: CloudSite) -> str:
    made = _call(site, "POST", "/api/reports/subscriptions", _token(site, "olga"),
                 _subscription(THEIRS))  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def _olgas_command(site: CloudSite) -> str:
    ws = await site.ui("olga")
    try:
        cmd = command(edge_id=THEIRS)
        await ws.send(json.dumps(cmd))
        await next_of(ws, "ack", timeout_s=WAIT_S, command_id=cmd["command_id"])
        return str(cmd["command_id"])
    finally:
        await ws.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    env = {
        "EMS_HTTP_RATE_PER_S": "100000",
        "EMS_HTTP_BURST": "100000",
        # Metrics name every edge: for the SRE's scraper, never for a user's token.
        "EMS_METRICS_TOKEN": "scraper-secret",
    }
    site = CloudSite(tmp_path_factory.mktemp("orgs"), env=env)
    site.create_accounts((THEIRS,))  # olga and vic, in the default organisation
    site.create_user("ada", "admin")  # a superuser
    ems_cli("auth", "create-org", "bolt", data=site.data)
    ems_cli("auth", "create-edge-key", OWN, "--org", "bolt", data=site.data)
    ems_cli(
        "auth", "create-user", "bob", "--role", "admin", "--org", "bolt",
        "--password", PASSWORD, data=site.data,
    )  # fmt: skip
    try:
        site.start_cloud()
        site.start_edge(THEIRS)
        ada = _token(site, "ada")

        async def prepare() -> tuple[str, str, str]:
            command_id = await _olgas_command(site)
            rule_id, alarm_id = await _raise_alarm(site, ada)
            return command_id, rule_id, alarm_id

        command_id, rule_id, alarm_id = asyncio.run(prepare())
        subscription_id = _olgas_subscription(site)
        yield World(site, _token(site, "bob"), command_id, rule_id, alarm_id, subscription_id)
    finally:
        site.stop()


def _same(theirs: httpx.Response, missing: httpx.Response, ids: tuple[str, str]) -> None:
    """Same status, same body once the two ids asked for are written alike."""
    assert theirs.status_code == missing.status_code, (theirs.text, missing.text)
    assert theirs.text.replace(ids[0], "<id>") == missing.text.replace(ids[1], "<id>")


Probe = Callable[[World], None]


def _edge_in_path(method: str, template: str, **params: Any) -> Probe:
    def probe(w: World) -> None:
        answers = [
            _call(w.site, method, template.format(edge_id=e), w.bob, **params)
            for e in (THEIRS, MISSING_EDGE)
        ]
        _same(*answers, (THEIRS, MISSING_EDGE))

    return probe


def _edge_in_query(method: str, path: str, body: Any = None, **params: Any) -> Probe:
    def probe(w: World) -> None:
        answers = [
            _call(w.site, method, path, w.bob, body, edge_id=e, **params)
            for e in (THEIRS, MISSING_EDGE)
        ]
        _same(*answers, (THEIRS, MISSING_EDGE))  # echoing the id asked for is all

    return probe


def _edge_in_body(method: str, path: str, body: Callable[[str], dict[str, Any]] = _rule) -> Probe:
    def probe(w: World) -> None:
        answers = [_call(w.site, method, path, w.bob, body(e)) for e in (THEIRS, MISSING_EDGE)]
        _same(*answers, (THEIRS, MISSING_EDGE))
        assert answers[0].status_code == 404

    return probe


def _edge_in_path_with_body(method: str, template: str, body: Any) -> Probe:
    def probe(w: World) -> None:
        answers = [
            _call(w.site, method, template.format(edge_id=e), w.bob, body)
            for e in (THEIRS, MISSING_EDGE)
        ]
        _same(*answers, (THEIRS, MISSING_EDGE))
        assert answers[0].status_code == 404, answers[0].text

    return probe


def _id_in_path(
    method: str, template: str, which: str, body: Any = None, missing: str = MISSING_ID
) -> Probe:
    def probe(w: World) -> None:
        theirs = str(getattr(w, which))
        answers = [
            _call(w.site, method, template.format(id=i), w.bob, body) for i in (theirs, missing)
        ]
        _same(*answers, (theirs, missing))
        assert answers[0].status_code in (404, 422), answers[0].text

    return probe


def _listing(path: str, **params: Any) -> Probe:
    def probe(w: World) -> None:
        answer = _call(w.site, "GET", path, w.bob, **params)
        assert answer.status_code == 200, answer.text
        for secret in (THEIRS, w.command_id, w.rule_id, w.alarm_id, w.subscription_id):
            assert secret not in answer.text

    return probe


def _not_tenant_data(path: str) -> Probe:
    def probe(w: World) -> None:  # the same for everyone: device profiles, liveness
        assert _call(w.site, "GET", path, w.bob).status_code == 200

    return probe


def _operators_only(path: str) -> Probe:
    def probe(w: World) -> None:
        answer = _call(w.site, "GET", path, w.bob)
        assert answer.status_code == 401 and THEIRS not in answer.text

    return probe


def _audit(w: World) -> None:
    # The default organisation's actions (olga, vic, site-1's key) are not bob's to read.
    entries = _call(w.site, "GET", "/api/audit", w.bob).json()["entries"]
    assert entries and {e["organisation"] for e in entries} == {"bolt"}
    _edge_in_query("GET", "/api/audit")(w)


TODAY = datetime.now(UTC).date().isoformat()
SHELVE = {"until": "2099-01-01T00:00:00Z", "reason": "test"}

#: Every route of the cloud -> how a user of another organisation is shown nothing.
ROUTES: dict[tuple[str, str], Probe] = {
    ("GET", "/healthz"): _not_tenant_data("/healthz"),
    ("GET", "/metrics"): _operators_only("/metrics"),
    ("GET", "/api/profiles"): _not_tenant_data("/api/profiles"),
    ("GET", "/api/profiles/{profile_type}"): _not_tenant_data("/api/profiles/battery"),
    ("GET", "/api/edges"): _listing("/api/edges"),
    ("GET", "/api/audit"): _audit,
    ("GET", "/api/edges/{edge_id}/telemetry"): _edge_in_path(
        "GET", "/api/edges/{edge_id}/telemetry", channel="battery_1/Soc"
    ),
    ("GET", "/api/commands"): _edge_in_query("GET", "/api/commands"),
    ("GET", "/api/commands/{command_id}"): _id_in_path(
        "GET", "/api/commands/{id}", "command_id", missing=str(uuid.uuid4())
    ),
    ("GET", "/api/reports/energy"): _edge_in_query(
        "GET", "/api/reports/energy", period="day", start=TODAY
    ),
    ("GET", "/api/energy"): _edge_in_query(
        "GET", "/api/energy", **{"from": f"{TODAY}T00:00:00Z", "to": f"{TODAY}T23:00:00Z"}
    ),
    ("GET", "/api/sites/summary"): _listing("/api/sites/summary"),
    ("GET", "/api/edges/{edge_id}/config"): _edge_in_path("GET", "/api/edges/{edge_id}/config"),
    ("GET", "/api/edges/{edge_id}/config/{version}"): _edge_in_path(
        "GET", "/api/edges/{edge_id}/config/1"
    ),
    ("PUT", "/api/edges/{edge_id}/config"): _edge_in_path_with_body(
        "PUT", "/api/edges/{edge_id}/config", {"yaml": "edge_id: b-1"}
    ),
    ("POST", "/api/edges/{edge_id}/config/rollback"): _edge_in_path_with_body(
        "POST", "/api/edges/{edge_id}/config/rollback", {"version": 1}
    ),
    ("GET", "/api/reports/subscriptions"): _listing("/api/reports/subscriptions"),
    ("POST", "/api/reports/subscriptions"): _edge_in_body(
        "POST", "/api/reports/subscriptions", _subscription
    ),
    ("DELETE", "/api/reports/subscriptions/{subscription_id}"): _id_in_path(
        "DELETE", "/api/reports/subscriptions/{id}", "subscription_id"
    ),
    ("GET", "/api/alarm-rules"): _listing("/api/alarm-rules"),
    ("POST", "/api/alarm-rules"): _edge_in_body("POST", "/api/alarm-rules"),
    ("PUT", "/api/alarm-rules/{rule_id}"): _id_in_path(
        "PUT", "/api/alarm-rules/{id}", "rule_id", _rule(OWN)
    ),
    ("DELETE", "/api/alarm-rules/{rule_id}"): _id_in_path(
        "DELETE", "/api/alarm-rules/{id}", "rule_id"
    ),
    ("GET", "/api/alarms"): _edge_in_query("GET", "/api/alarms"),
    ("GET", "/api/alarms/{alarm_id}"): _id_in_path("GET", "/api/alarms/{id}", "alarm_id"),
    ("POST", "/api/alarms/{alarm_id}/ack"): _id_in_path("POST", "/api/alarms/{id}/ack", "alarm_id"),
    ("POST", "/api/alarms/{alarm_id}/shelve"): _id_in_path(
        "POST", "/api/alarms/{id}/shelve", "alarm_id", SHELVE
    ),
    ("POST", "/api/alarms/{alarm_id}/unshelve"): _id_in_path(
        "POST", "/api/alarms/{id}/unshelve", "alarm_id"
    ),
}


def _routes(site: CloudSite) -> set[tuple[str, str]]:
    document = httpx.get(site.http("/openapi.json")).json()
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_every_route_has_an_isolation_check(world: World) -> None:
    routes = _routes(world.site)
    assert routes - ROUTES.keys() == set(), "a route without an isolation check"
    assert ROUTES.keys() - routes == set(), "a check of a route that is gone"


@pytest.mark.parametrize("route", sorted(ROUTES), ids=" ".join)
def test_another_organisations_things_answer_as_missing(
    world: World, route: tuple[str, str]
) -> None:
    ROUTES[route](world)


def test_the_owner_organisation_does_see_them(world: World) -> None:
    """The control: the same things exist and are visible to their own organisation."""
    olga = _token(world.site, "olga")
    for path, params in (
        (f"/api/commands/{world.command_id}", {}),
        (f"/api/alarms/{world.alarm_id}", {}),
        ("/api/commands", {"edge_id": THEIRS}),
        (f"/api/edges/{THEIRS}/telemetry", {"channel": "battery_1/Soc"}),
    ):
        assert _call(world.site, "GET", path, olga, **params).status_code == 200, path
    rules = _call(world.site, "GET", "/api/alarm-rules", olga).json()["rules"]
    assert world.rule_id in {r["rule_id"] for r in rules}
    ada = _token(world.site, "ada")
    audit = _call(world.site, "GET", "/api/audit", ada, edge_id=THEIRS, kind="command")
    (sent,) = audit.json()["entries"]
    assert (sent["user"], sent["target"], sent["after"]["device"]) == (
        "olga",
        world.command_id,
        "battery_1",
    )


async def _ui_answer(ws: Any, frame: dict[str, Any]) -> dict[str, Any] | None:
    await ws.send(json.dumps(frame))
    if frame["type"] == "command":
        return await next_of(ws, "ack", timeout_s=WAIT_S, command_id=frame["command_id"])
    if frame["type"] == "subscribe":
        return await next_of(ws, "error", timeout_s=WAIT_S)
    return None


#: Every frame type a dashboard sends -> the frames tried with another organisation's
#: edge and with a missing one (``auth`` names no edge: checked by the security suite).
UI_FRAMES: dict[str, Callable[[str], dict[str, Any]] | None] = {
    "auth": None,
    "subscribe": lambda edge_id: {"type": "subscribe", "edge_id": edge_id},
    "unsubscribe": lambda edge_id: {"type": "unsubscribe", "edge_id": edge_id},
    "command": lambda edge_id: command(edge_id=edge_id, command_id=str(uuid.uuid4())),
}


def test_every_dashboard_frame_type_has_an_isolation_check() -> None:
    assert set(UI_FRAMES) == set(UI_TO_CLOUD.types)


@pytest.mark.asyncio
async def test_dashboard_frames_on_another_organisations_edge_answer_as_missing(
    world: World,
) -> None:
    from websockets.asyncio.client import connect

    async with connect(world.site.ws(f"/ws/ui?token={world.bob}")) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))["type"] == "auth_ok"
        for kind, make in UI_FRAMES.items():
            if make is None:
                continue
            theirs, missing = make(THEIRS), make(MISSING_EDGE)
            a, b = await _ui_answer(ws, theirs), await _ui_answer(ws, missing)
            if a is None or b is None:
                assert a == b, kind
                continue
            for answer in (a, b):
                answer.pop("at", None)
                answer.pop("command_id", None)
            assert json.dumps(a, sort_keys=True).replace(THEIRS, "<id>") == json.dumps(
                b, sort_keys=True
            ).replace(MISSING_EDGE, "<id>"), kind
