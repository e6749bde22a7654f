"""``GET /api/audit``: user actions with who, what, when, before and after, for the
admins of the organisation they happened in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.test import Client
from fastapi import FastAPI

import ems.authsvc
from ems.authsvc import orgs
from ems.authsvc.embedded import read_audit_entries
from ems.cloud.audit_api import audit_router
from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.auth.port import AuditQuery

PASSWORD = "correct horse battery staple"


async def _auth_entries(query: AuditQuery) -> list[dict[str, Any]]:
    """The embedded auth service's records, as the cloud reads them (EmbeddedAuth)."""
    return await asyncio.to_thread(read_audit_entries, query)


def _claims(username: str) -> Claims:
    from ems.authsvc.api import _access_claims
    from ems.authsvc.models import User
    from ems.authsvc.orgs import claim_role

    user = User.objects.get(username=username)
    edges = _access_claims(user)["edges"]
    return Claims(
        username=username,
        role=claim_role(user),
        uid=int(user.pk),
        exp=2e9,
        iat=0.0,
        jti="j",
        edges=None if edges == ["*"] else frozenset(edges),
    )


@pytest.fixture
def world() -> dict[str, Claims]:
    orgs.create_org("acme")
    orgs.create_org("bolt")
    for name, role, org in (
        ("alice", "admin", "acme"),
        ("anna", "viewer", "acme"),
        ("bob", "admin", "bolt"),
        ("root", "admin", None),
    ):
        ems.authsvc.create_user(name, role, PASSWORD, org=org, check_password_strength=False)
    ems.authsvc.create_edge_key("a-1", org="acme")
    ems.authsvc.create_edge_key("b-1", org="bolt")
    ems.authsvc.grant_edges("anna", ["a-1"])
    ems.authsvc.revoke_grants("anna", ["a-1"])
    ems.authsvc.revoke_edge_keys("b-1")
    return {name: _claims(name) for name in ("alice", "anna", "bob", "root")}


def _get(claims: Claims, **params: Any) -> httpx.Response:
    async def verify(token: str) -> Claims:
        if token != "t":
            raise AuthError("invalid_token", "bad")
        return claims

    app = FastAPI()
    app.include_router(audit_router(verify, auth_entries=_auth_entries))

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(
                "/api/audit", params=params, headers={"Authorization": "Bearer t"}
            )

    return asyncio.run(call())


def _kinds(response: httpx.Response) -> list[tuple[str, str | None]]:
    assert response.status_code == 200, response.text
    return [(e["kind"], e["target"]) for e in response.json()["entries"]]


def test_an_org_admin_reads_their_organisations_actions_only(world: dict[str, Claims]) -> None:
    entries = _get(world["alice"]).json()["entries"]
    assert {e["organisation"] for e in entries} == {"acme"}
    seen = {(e["kind"], e["target"]) for e in entries}
    assert {("member.added", "anna"), ("grant.added", "anna"), ("grant.removed", "anna")} <= seen
    assert not any(e["edge_id"] == "b-1" or e["target"] in ("bob", "root") for e in entries)
    bobs = _get(world["bob"]).json()["entries"]
    assert {e["organisation"] for e in bobs} == {"bolt"}
    assert ("key.revoked", "b-1") in {(e["kind"], e["edge_id"]) for e in bobs}


def test_before_and_after_and_who(world: dict[str, Claims]) -> None:
    (removed,) = _get(world["alice"], kind="grant.removed").json()["entries"]
    assert removed["before"] == {"edge_id": "a-1"} and removed["after"] is None
    assert removed["user"] == "cli" and removed["edge_id"] == "a-1"
    (revoked,) = _get(world["bob"], kind="key.revoked").json()["entries"]
    assert (revoked["before"], revoked["after"]) == ({"active": True}, {"active": False})


def test_filters(world: dict[str, Claims]) -> None:
    assert {k for k, _ in _kinds(_get(world["root"], kind="key"))} == {
        "key.created",
        "key.revoked",
    }
    assert _kinds(_get(world["root"], user="nobody")) == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert _kinds(_get(world["root"], start=future)) == []
    assert len(_kinds(_get(world["root"], end=future))) >= 8
    assert {e["edge_id"] for e in _get(world["alice"], edge_id="a-1").json()["entries"]} == {"a-1"}


def test_another_organisations_edge_answers_as_a_missing_one(world: dict[str, Claims]) -> None:
    theirs, missing = _get(world["alice"], edge_id="b-1"), _get(world["alice"], edge_id="zz-9")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"].replace("b-1", "?") == missing.json()["detail"].replace(
        "zz-9", "?"
    )


def test_only_admins_read_it_and_bad_filters_name_the_field(world: dict[str, Claims]) -> None:
    assert _get(world["anna"]).status_code == 403
    bad = _get(world["root"], kind="DROP TABLE")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "kind"
    assert _get(world["root"], nope="1").status_code == 422


def test_the_admins_own_actions_name_them(world: dict[str, Claims]) -> None:
    from ems.authsvc.models import User

    client = Client()
    client.force_login(User.objects.get(username="alice"))
    client.post("/auth/admin/emsauth/edgekey/add/", {"edge_id": "a-2", "label": "x"})
    response = _get(_claims("alice"), kind="key.created", edge_id="a-2")  # a-2 is new
    (created,) = response.json()["entries"]
    assert created["user"] == "alice" and created["organisation"] == "acme"


def test_commands_are_in_the_audit_of_their_edge(world: dict[str, Claims]) -> None:
    from ems.cloud.records.model import CommandInfo, CommandRecord

    def record(edge_id: str, user: str, at: float) -> CommandRecord:
        info = CommandInfo(
            f"c-{edge_id}", edge_id, user, "battery_1", "set_active_power", -1000, at, 60, at
        )
        return CommandRecord(info, "executed", None, True, at)

    now = datetime.now(UTC).timestamp()
    sent = {"a-1": [record("a-1", "anna", now)], "b-1": [record("b-1", "bob", now)]}

    async def commands(edge_id: str, limit: int) -> list[CommandRecord]:
        return sent.get(edge_id, [])[:limit]

    async def verify(token: str) -> Claims:
        return world["alice"]

    app = FastAPI()
    app.include_router(audit_router(verify, commands, _auth_entries))

    async def call(**params: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(
                "/api/audit", params=params, headers={"Authorization": "Bearer t"}
            )

    entries = asyncio.run(call(kind="command")).json()["entries"]
    assert [(e["user"], e["edge_id"], e["after"]["status"]) for e in entries] == [
        ("anna", "a-1", "executed")
    ]  # bob's command to bolt's edge is not alice's to see
    assert asyncio.run(call(kind="command", user="nobody")).json()["entries"] == []
    assert asyncio.run(call(edge_id="b-1")).status_code == 404
