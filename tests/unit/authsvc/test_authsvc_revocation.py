"""Logout, an admin's revoke, grants and what each tells the cloud (through Redis).

Through Django's test client, with the embedded store standing in for Redis: a
subscriber on the revocations channel sees what every cloud process would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import jwt
import pytest
from django.test import Client

import ems.authsvc
from ems.authsvc import bootstrap, revocation
from ems.authsvc.cli import add_auth_parser
from ems.cloud.shared import embedded_server, reset_embedded_server
from ems.protocol.revocation import (
    EdgeKeysRevoked,
    UserRevoked,
    decode_revocation,
    revocations_channel,
    revoked_users_key,
)

PASSWORD = "correct horse battery staple"


class Channel:
    """What the auth service published, as a cloud process would receive it."""

    def __init__(self) -> None:
        self.redis = fakeredis.FakeRedis(server=embedded_server())
        self.pubsub = self.redis.pubsub()
        self.pubsub.subscribe(revocations_channel())
        self.pubsub.get_message(timeout=1.0)  # the subscription's confirmation

    def messages(self) -> list[UserRevoked | EdgeKeysRevoked]:
        out = []
        while (message := self.pubsub.get_message(timeout=0.05)) is not None:
            if message["type"] == "message":
                out.append(decode_revocation(message["data"]))
        return out

    def stored(self, username: str) -> float | None:
        value = self.redis.hget(revoked_users_key(), username)
        return None if value is None else float(value.split()[0])


@pytest.fixture
def channel() -> Iterator[Channel]:
    reset_embedded_server()
    revocation.use_redis(None)  # the embedded store made just now
    made = Channel()
    yield made
    made.pubsub.close()
    reset_embedded_server()


def _claims(token: str) -> dict[str, Any]:
    key = bootstrap.signing_key()
    claims: dict[str, Any] = jwt.decode(
        token, key.public_key, algorithms=["EdDSA"], audience="ems-cloud"
    )
    return claims


def _login(username: str = "olga") -> dict[str, Any]:
    response = Client().post(
        "/auth/token",
        {"username": username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def _refresh(refresh: str) -> Any:
    return Client().post(
        "/auth/token/refresh", {"refresh": refresh}, content_type="application/json"
    )


def _logout(access: str | None = None, refresh: str | None = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {access}"} if access else {}
    body = {"refresh": refresh} if refresh else {}
    return Client().post("/auth/logout", body, content_type="application/json", **headers)


@pytest.fixture
def olga() -> str:
    ems.authsvc.create_user("olga", "operator", PASSWORD, edges=["site-1"])
    return "olga"


# --- POST /auth/logout ----------------------------------------------------------------------


def test_logout_ends_every_session_and_tells_the_cloud(olga: str, channel: Channel) -> None:
    first, second = _login(), _login()  # two tabs, or two devices
    before = time.time()

    response = _logout(access=first["access"], refresh=first["refresh"])

    assert response.status_code == 200
    assert response.json() == {"status": "logged_out", "user": "olga"}
    assert response["Cache-Control"] == "no-store"
    [message] = channel.messages()
    assert isinstance(message, UserRevoked)
    assert (message.username, message.why) == ("olga", "logout")
    assert before <= message.before_s <= time.time()
    assert channel.stored("olga") == message.before_s  # for processes that missed it
    for session in (first, second):  # every session, not only the one logging out
        assert _claims(session["access"])["iat"] < message.before_s
        refused = _refresh(session["refresh"])
        assert refused.status_code == 401
        assert refused.json() == {"error": "invalid_token", "detail": "session revoked"}
    # Signing in again works at once (even within the same second), and refreshes.
    again = _login()
    assert _claims(again["access"])["iat"] >= message.before_s
    assert _refresh(again["refresh"]).status_code == 200


def test_logout_with_the_refresh_token_alone(olga: str, channel: Channel) -> None:
    tokens = _login()
    assert _logout(refresh=tokens["refresh"]).status_code == 200
    assert [m.why for m in channel.messages() if isinstance(m, UserRevoked)] == ["logout"]
    assert _refresh(tokens["refresh"]).status_code == 401


@pytest.mark.parametrize("how", ["nothing", "garbage", "revoked", "get"])
def test_logout_refuses_without_a_valid_token_and_revokes_nothing(
    olga: str, channel: Channel, how: str
) -> None:
    tokens = _login()
    if how == "revoked":
        assert _logout(access=tokens["access"]).status_code == 200
        channel.messages()
        response = _logout(access=tokens["access"])  # a stolen, already revoked token
    elif how == "garbage":
        response = _logout(access="not.a.token")
    elif how == "get":
        response = Client().get("/auth/logout")
    else:
        response = _logout()
    assert response.status_code == (405 if how == "get" else 401)
    assert channel.messages() == []


def test_logout_refuses_a_token_with_a_foreign_signature(olga: str, channel: Channel) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    claims = _claims(_login()["access"])
    forged = jwt.encode(
        claims,
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": bootstrap.signing_key().kid},
    )
    assert _logout(access=forged).status_code == 401
    assert channel.messages() == []


# --- an admin's revoke ----------------------------------------------------------------------


def test_revoke_user_refuses_its_refresh_tokens_and_publishes(olga: str, channel: Channel) -> None:
    tokens = _login()
    before = ems.authsvc.revoke_user("olga")
    assert [(m.username, m.why, m.before_s) for m in channel.messages()] == [
        ("olga", "revoked", before)
    ]
    assert _refresh(tokens["refresh"]).status_code == 401


def test_the_admin_action_ends_the_selected_users_sessions(olga: str, channel: Channel) -> None:
    from ems.authsvc.models import User

    tokens = _login()
    ems.authsvc.create_user("ada", "admin", PASSWORD)
    admin = Client()
    admin.force_login(User.objects.get(username="ada"))
    channel.messages()
    response = admin.post(
        "/auth/admin/emsauth/user/",
        {
            "action": "revoke_sessions",
            "_selected_action": [str(User.objects.get(username="olga").pk)],
        },
        follow=True,
    )
    assert response.status_code == 200
    assert b"Sessions of 1 user(s) ended." in response.content
    assert [(m.username, m.why) for m in channel.messages()] == [("olga", "revoked")]
    assert _refresh(tokens["refresh"]).status_code == 401


def test_a_password_change_ends_the_sessions(olga: str, channel: Channel) -> None:
    tokens = _login()
    ems.authsvc.set_password("olga", "another horse battery staple")
    assert [m.why for m in channel.messages()] == ["revoked"]
    assert _refresh(tokens["refresh"]).status_code == 401


def test_a_deleted_users_tokens_are_revoked(olga: str, channel: Channel) -> None:
    from ems.authsvc.models import User

    User.objects.filter(username="olga").delete()
    assert ("olga", "revoked") in [(m.username, m.why) for m in channel.messages()]


# --- grants ---------------------------------------------------------------------------------


def test_tokens_carry_the_granted_edges(channel: Channel) -> None:
    ems.authsvc.create_user("olga", "operator", PASSWORD, edges=["site-2", "site-1"])
    ems.authsvc.create_user("vic", "viewer", PASSWORD)
    ems.authsvc.create_user("wim", "viewer", PASSWORD, edges=["site-1", "*"])
    ems.authsvc.create_user("ada", "admin", PASSWORD)
    assert _claims(_login("olga")["access"])["edges"] == ["site-1", "site-2"]
    assert _claims(_login("vic")["access"])["edges"] == []
    assert _claims(_login("wim")["access"])["edges"] == ["*"]
    assert _claims(_login("ada")["access"])["edges"] == ["*"]  # admins see every edge
    assert "edges" not in _claims(_login("olga")["refresh"])


def test_a_grant_change_outdates_access_tokens_but_not_the_session(
    olga: str, channel: Channel
) -> None:
    tokens = _login()
    assert ems.authsvc.grant_edges("olga", ["site-2", "site-1"]) == ["site-2"]
    [message] = channel.messages()
    assert isinstance(message, UserRevoked)
    assert (message.username, message.why) == ("olga", "claims_changed")
    assert _claims(tokens["access"])["iat"] < message.before_s  # the cloud refuses it
    refreshed = _refresh(tokens["refresh"])  # ... and the refresh gives the new grants
    assert refreshed.status_code == 200
    assert _claims(refreshed.json()["access"])["edges"] == ["site-1", "site-2"]

    assert ems.authsvc.revoke_grants("olga", ["site-1", "site-9"]) == ["site-1"]
    assert [m.why for m in channel.messages()] == ["claims_changed"]
    refreshed = _refresh(tokens["refresh"])
    assert _claims(refreshed.json()["access"])["edges"] == ["site-2"]
    assert ems.authsvc.grants("olga") == ["site-2"]


def test_a_role_change_outdates_access_tokens(olga: str, channel: Channel) -> None:
    from ems.authsvc.models import User

    tokens = _login()
    user = User.objects.get(username="olga")
    user.role = "viewer"
    user.save()
    assert [m.why for m in channel.messages()] == ["claims_changed"]
    refreshed = _refresh(tokens["refresh"]).json()
    assert (refreshed["role"], _claims(refreshed["access"])["role"]) == ("viewer", "viewer")
    user.first_name = "Olga"  # not a claim: nothing to tell
    user.save()
    assert channel.messages() == []


@pytest.mark.parametrize("edge_id", ["Site-1", "", "a b", "*x", "../x"])
def test_a_malformed_grant_is_refused(olga: str, edge_id: str) -> None:
    with pytest.raises(ems.authsvc.InvalidEdgeId):
        ems.authsvc.grant_edges("olga", [edge_id])


def test_granting_to_nobody_is_refused() -> None:
    with pytest.raises(ems.authsvc.UnknownUser):
        ems.authsvc.grant_edges("nobody", ["site-1"])


def test_the_admin_adds_a_grant_inline(olga: str, channel: Channel) -> None:
    from ems.authsvc.models import User

    ems.authsvc.create_user("ada", "admin", PASSWORD)
    admin = Client()
    admin.force_login(User.objects.get(username="ada"))
    page = admin.get(f"/auth/admin/emsauth/user/{User.objects.get(username='olga').pk}/change/")
    assert page.status_code == 200
    assert b"edge grant" in page.content.lower()


# --- edge keys ------------------------------------------------------------------------------


def test_revoking_edge_keys_tells_the_cloud_which_keys(channel: Channel) -> None:
    old = ems.authsvc.create_edge_key("site-1")
    new = ems.authsvc.create_edge_key("site-1")
    old_id = old.split("_")[1]
    assert ems.authsvc.revoke_edge_keys("site-1", [old_id]) == 1
    assert channel.messages() == [EdgeKeysRevoked("site-1", (old_id,))]
    assert not ems.authsvc.verify_edge_key("site-1", old)
    assert ems.authsvc.verify_edge_key("site-1", new)  # the rollover's new key


# --- the command line -----------------------------------------------------------------------


def _run(*argv: str, data_dir: Path) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="ems")
    add_auth_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["auth", *argv, "--data-dir", str(data_dir)])
    code: int = args.func(args)
    return code


def test_the_cli_grants_lists_and_revokes(
    auth_data_dir: Path, channel: Channel, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("create-user", "otto", "--role", "operator", "--password", PASSWORD,
                "--edge", "site-1", data_dir=auth_data_dir) == 0  # fmt: skip
    assert ems.authsvc.grants("otto") == ["site-1"]
    assert _run("grant", "otto", "site-2", "site-3", data_dir=auth_data_dir) == 0
    assert _run("revoke-grant", "otto", "site-1", data_dir=auth_data_dir) == 0
    capsys.readouterr()
    assert _run("grants", "otto", data_dir=auth_data_dir) == 0
    assert capsys.readouterr().out.split() == ["site-2", "site-3"]
    channel.messages()
    assert _run("revoke-user", "otto", data_dir=auth_data_dir) == 0
    assert [(m.username, m.why) for m in channel.messages()] == [("otto", "revoked")]


def test_a_failed_publish_does_not_fail_the_revocation(olga: str) -> None:
    tokens = _login()
    revocation.use_redis("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        ems.authsvc.revoke_user("olga")  # logged, not raised: the database holds it
    finally:
        revocation.use_redis(None)
    assert _refresh(tokens["refresh"]).status_code == 401
    assert json.loads(_refresh(tokens["refresh"]).content)["detail"] == "session revoked"
