"""Attacks on authentication and authorization, against two real cloud processes.

Two ``ems cloud`` processes (A and B) on one real ``redis-server`` and one
PostgreSQL, edges held by B and driven by hand, dashboards on either. Each
attack is refused with its code or reason, nothing reaches an edge, and the
service keeps serving everyone else right after (:func:`still_serving`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from support.redis import start_redis
from support.site import PASSWORD, CloudSite, command, edge_ack, edge_socket, ems_cli, next_of
from support.tokens import FORGERIES, forged_tokens, valid_token

# Edge ids of this module's own: the session's PostgreSQL is shared with other modules.
EDGE = "sec-1"
OTHER = "sec-2"
WAIT_S = 10.0


@dataclass
class Clouds:
    a: CloudSite
    b: CloudSite  # holds the edges
    env: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str) -> str:
        """``ems auth …`` as an operator runs it: publishing through the shared Redis."""
        return ems_cli(*args, data=self.a.data, env=self.env)

    def stop(self) -> None:
        self.b.stop()
        self.a.stop()


@pytest.fixture(scope="module")
def clouds(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clouds]:
    data = tmp_path_factory.mktemp("attacks-auth")
    with start_redis() as redis:
        shared = {"EMS_REDIS_URL": redis.url, "EMS_DATABASE_URL": postgres_url}
        a = CloudSite(data, env={**shared, "EMS_NODE_ID": "sec-a"})
        b = CloudSite(data, env={**shared, "EMS_NODE_ID": "sec-b"})
        made = Clouds(a, b, shared)
        a.create_accounts((EDGE, OTHER), grants=(EDGE, OTHER))
        a.create_user("otto", "operator", (EDGE,))  # an operator of one edge only
        a.create_user("ada", "admin")  # admins see every edge without grants
        for name in ("rita", "rex", "gus", "ron"):  # revoked by the tests, one each
            a.create_user(name, "operator", (EDGE,))
        made.keys = {EDGE: a.key(EDGE), OTHER: a.key(OTHER)}
        try:
            a.start_cloud()
            b.start_cloud()
            yield made
        finally:
            made.stop()


# -- helpers -------------------------------------------------------------------------


@dataclass(eq=False)
class HandEdge:
    """An edge driven by hand: reports a battery, acks every command ``executed``."""

    ws: ClientConnection
    commands: list[str] = field(default_factory=list)
    got: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Future[tuple[int, str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    async def run(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame["type"] == "command":
                    self.commands.append(frame["command_id"])
                    self.got.set()
                    await edge_ack(self.ws, frame["command_id"], "executed")
        except ConnectionClosed:
            pass
        if not self.closed.done():
            self.closed.set_result((self.ws.close_code or -1, self.ws.close_reason or ""))

    async def command(self, command_id: str) -> None:
        """Wait until ``command_id`` arrived here."""
        while command_id not in self.commands:
            self.got.clear()
            await asyncio.wait_for(self.got.wait(), WAIT_S)


@asynccontextmanager
async def hand_edge(site: CloudSite, edge_id: str, key: str) -> AsyncIterator[HandEdge]:
    ws = await edge_socket(site, edge_id, key)
    hello = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    assert hello["type"] == "auth_ok", hello
    await ws.send(
        json.dumps({"type": "inventory", "devices": [{"id": "battery_1", "profile": "battery"}]})
    )
    edge = HandEdge(ws)
    task = asyncio.create_task(edge.run())
    try:
        yield edge
    finally:
        await ws.close()
        await task


def mode_command(edge_id: str = EDGE) -> dict[str, Any]:
    """A command without dynamic limits: it goes out as soon as the edge is online."""
    return command(edge_id=edge_id, action="set_mode", value="manual")


async def refused(ws: ClientConnection) -> tuple[int, str, list[dict[str, Any]]]:
    """Read until the server closes: (close code, close reason, frames received)."""
    frames: list[dict[str, Any]] = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), WAIT_S)))
    except ConnectionClosed as closed:
        rcvd = closed.rcvd
    return (-1, "", frames) if rcvd is None else (rcvd.code, rcvd.reason, frames)


async def ack_of(ws: ClientConnection, command_id: str) -> dict[str, Any]:
    return await next_of(ws, "ack", timeout_s=WAIT_S, command_id=command_id)


def login(site: CloudSite, username: str) -> dict[str, Any]:
    r = httpx.post(site.http("/auth/token"), json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def post(site: CloudSite, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(site.http(path), **kwargs)


def api(site: CloudSite, path: str, token: str | None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(site.http(path), headers=headers, params=params)


async def dashboard(site: CloudSite, token: str) -> ClientConnection:
    ws = await connect(site.ws(f"/ws/ui?token={token}"))
    hello = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    assert hello["type"] == "auth_ok", hello
    return ws


async def still_serving(clouds: Clouds, edge: HandEdge, username: str = "olga") -> None:
    """Another user's command from cloud A reaches the edge held by B, and the API answers."""
    token = login(clouds.a, username)["access"]
    ws = await dashboard(clouds.a, token)
    try:
        cmd = mode_command()
        await ws.send(json.dumps(cmd))
        first = await ack_of(ws, cmd["command_id"])
        assert first["status"] in ("received", "queued"), first
        await edge.command(cmd["command_id"])
    finally:
        await ws.close()
    assert api(clouds.b, "/api/edges", token).status_code == 200


# -- no token, and forged tokens ---------------------------------------------------------


@pytest.mark.asyncio
async def test_no_token(clouds: Clouds) -> None:
    async with hand_edge(clouds.b, EDGE, clouds.keys[EDGE]) as edge:
        async with connect(clouds.a.ws("/ws/ui")) as ws:
            await ws.send(json.dumps(mode_command()))  # a command instead of auth
            code, reason, frames = await refused(ws)
        assert (code, reason) == (4401, "first frame must be auth")
        assert frames == []
        for path, params in (
            ("/api/edges", {}),
            (f"/api/edges/{EDGE}/telemetry", {"channel": "battery_1/Soc"}),
            ("/api/commands", {"edge_id": EDGE}),
        ):
            r = api(clouds.a, path, None, **params)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == "Bearer"
        await still_serving(clouds, edge)
        assert len(edge.commands) == 1  # only the good one


@pytest.mark.asyncio
@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_forged_tokens_are_refused(clouds: Clouds, forgery: str) -> None:
    reason = FORGERIES[forgery]
    bad = forged_tokens(clouds.a.data, clouds.a.http(""))[forgery]
    async with hand_edge(clouds.b, EDGE, clouds.keys[EDGE]) as edge:
        # On the URL ...
        async with connect(clouds.a.ws(f"/ws/ui?token={bad}")) as ws:
            code, why, frames = await refused(ws)
        assert (code, why, frames) == (4401, reason, [])
        # ... and as the first frame, with a command right behind it.
        async with connect(clouds.b.ws("/ws/ui")) as ws:
            await ws.send(json.dumps({"type": "auth", "token": bad}))
            await ws.send(json.dumps(mode_command()))
            code, why, frames = await refused(ws)
        assert (code, why, frames) == (4401, reason, [])
        r = api(clouds.a, "/api/edges", bad)
        assert (r.status_code, r.json()["detail"]) == (401, reason)
        await still_serving(clouds, edge)
        assert len(edge.commands) == 1


@pytest.mark.asyncio
async def test_the_forging_is_right(clouds: Clouds) -> None:
    """Control: the same claims signed with the real key are accepted."""
    good = valid_token(clouds.a.data, clouds.a.http(""))
    ws = await dashboard(clouds.a, good)
    await ws.close()


# -- revocation --------------------------------------------------------------------------


async def _listening(site: CloudSite, token: str) -> ClientConnection:
    """A dashboard that only listens (nothing it sends would check its token)."""
    ws = await dashboard(site, token)
    await ws.send(json.dumps({"type": "subscribe", "edge_id": EDGE}))
    await next_of(ws, "edge_status", timeout_s=WAIT_S, edge_id=EDGE)
    return ws


async def _assert_refused_everywhere(clouds: Clouds, token: str, edge: HandEdge) -> None:
    for site in (clouds.a, clouds.b):
        async with connect(site.ws(f"/ws/ui?token={token}")) as ws:
            code, reason, _ = await refused(ws)
        assert (code, reason) == (4401, "revoked")
        r = api(site, "/api/edges", token)
        assert (r.status_code, r.json()["detail"]) == (401, "revoked")
        async with connect(site.ws("/ws/ui")) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            await ws.send(json.dumps(mode_command()))
            code, reason, frames = await refused(ws)
        assert (code, reason, frames) == (4401, "revoked", [])
    assert edge.commands == []


@pytest.mark.asyncio
async def test_logout_closes_the_users_sockets_on_both_processes_and_refuses_the_token(
    clouds: Clouds,
) -> None:
    tokens = login(clouds.a, "rita")
    access = tokens["access"]
    async with hand_edge(clouds.b, EDGE, clouds.keys[EDGE]) as edge:
        on_a = await _listening(clouds.a, access)
        on_b = await _listening(clouds.b, access)
        assert api(clouds.b, "/api/edges", access).status_code == 200

        r = post(
            clouds.a,
            "/auth/logout",
            headers={"Authorization": f"Bearer {access}"},
            json={"refresh": tokens["refresh"]},
        )
        assert r.status_code == 200, r.text

        for ws in (on_a, on_b):  # the live sockets, on this process and the other
            code, reason, _ = await refused(ws)
            assert (code, reason) == (4401, "token revoked")
        await _assert_refused_everywhere(clouds, access, edge)
        r = post(clouds.b, "/auth/token/refresh", json={"refresh": tokens["refresh"]})
        assert (r.status_code, r.json()["detail"]) == (401, "session revoked")

        # Signing in again works at once, and so does everyone else.
        again = await dashboard(clouds.b, login(clouds.b, "rita")["access"])
        await again.close()
        await still_serving(clouds, edge)


@pytest.mark.asyncio
async def test_an_admins_revoke_closes_sockets_everywhere(clouds: Clouds) -> None:
    access = login(clouds.b, "rex")["access"]
    async with hand_edge(clouds.b, EDGE, clouds.keys[EDGE]) as edge:
        on_a = await _listening(clouds.a, access)
        on_b = await _listening(clouds.b, access)
        clouds.cli("auth", "revoke-user", "rex")
        for ws in (on_a, on_b):
            code, reason, _ = await refused(ws)
            assert (code, reason) == (4401, "token revoked")
        await _assert_refused_everywhere(clouds, access, edge)
        await still_serving(clouds, edge)


@pytest.mark.asyncio
async def test_a_revoked_token_stays_refused_by_a_restarted_process(clouds: Clouds) -> None:
    access = login(clouds.a, "ron")["access"]
    clouds.cli("auth", "revoke-user", "ron")
    assert clouds.b.cloud is not None
    clouds.b.cloud.stop()
    clouds.b.start_cloud()  # it learns of the revocation from Redis, not from the message
    async with hand_edge(clouds.b, EDGE, clouds.keys[EDGE]) as edge:
        await _assert_refused_everywhere(clouds, access, edge)
        await still_serving(clouds, edge)


@pytest.mark.asyncio
async def test_a_grant_taken_away_closes_the_socket_and_the_refresh_drops_the_edge(
    clouds: Clouds,
) -> None:
    tokens = login(clouds.a, "gus")
    async with hand_edge(clouds.b, EDGE, clouds.keys[EDGE]) as edge:
        ws = await _listening(clouds.b, tokens["access"])
        clouds.cli("auth", "revoke-grant", "gus", EDGE)
        code, reason, _ = await refused(ws)
        assert (code, reason) == (4401, "token outdated: refresh it")
        # The session lives on: the refresh gives a token without the edge.
        r = post(clouds.a, "/auth/token/refresh", json={"refresh": tokens["refresh"]})
        assert r.status_code == 200, r.text
        fresh = r.json()["access"]
        assert api(clouds.a, "/api/edges", fresh).json()["edges"] == []
        ws = await dashboard(clouds.b, fresh)
        cmd = mode_command()
        await ws.send(json.dumps(cmd))
        ack = await ack_of(ws, cmd["command_id"])
        assert (ack["status"], ack["reason"]) == ("rejected", "forbidden")
        await ws.close()
        assert edge.commands == []
        await still_serving(clouds, edge)


# -- authorization -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_viewer_cannot_command(clouds: Clouds) -> None:
    async with hand_edge(clouds.b, EDGE, clouds.keys[EDGE]) as edge:
        ws = await dashboard(clouds.a, login(clouds.a, "vic")["access"])
        cmd = mode_command()
        await ws.send(json.dumps(cmd))
        ack = await ack_of(ws, cmd["command_id"])
        assert (ack["status"], ack["reason"]) == ("rejected", "forbidden")
        # The socket stays usable for what a viewer may do.
        await ws.send(json.dumps({"type": "subscribe", "edge_id": EDGE}))
        assert (await next_of(ws, "edge_status", timeout_s=WAIT_S))["online"] is True
        await ws.close()
        assert edge.commands == []
        await still_serving(clouds, edge)


@pytest.mark.asyncio
async def test_a_user_neither_sees_nor_commands_an_edge_not_granted(clouds: Clouds) -> None:
    async with (
        hand_edge(clouds.b, EDGE, clouds.keys[EDGE]) as edge,
        hand_edge(clouds.b, OTHER, clouds.keys[OTHER]) as other,
    ):
        # A command of olga's to the other edge, for the records below.
        olga = login(clouds.a, "olga")["access"]
        ws = await dashboard(clouds.a, olga)
        theirs = mode_command(OTHER)
        await ws.send(json.dumps(theirs))
        await other.command(theirs["command_id"])
        await ws.close()

        otto = login(clouds.a, "otto")["access"]
        ws = await dashboard(clouds.b, otto)
        for edge_id in (OTHER, "sec-9"):  # granted neither: the same answer, exists or not
            cmd = mode_command(edge_id)
            await ws.send(json.dumps(cmd))
            ack = await ack_of(ws, cmd["command_id"])
            assert (ack["status"], ack["reason"]) == ("rejected", "forbidden")
            await ws.send(json.dumps({"type": "subscribe", "edge_id": edge_id}))
            error = await next_of(ws, "error", timeout_s=WAIT_S)
            assert error["code"] == "forbidden"
        await ws.close()
        assert other.commands == [theirs["command_id"]]  # olga's, nothing of otto's

        listed = [e["edge_id"] for e in api(clouds.a, "/api/edges", otto).json()["edges"]]
        assert listed == [EDGE]
        for path, params in (
            (f"/api/edges/{OTHER}/telemetry", {"channel": "battery_1/Soc"}),
            ("/api/commands", {"edge_id": OTHER}),
            (f"/api/commands/{theirs['command_id']}", {}),
        ):
            assert api(clouds.a, path, otto, **params).status_code == 404, path
            assert api(clouds.a, path, olga, **params).status_code == 200, path
        seen = {
            e["edge_id"]
            for e in api(clouds.a, "/api/edges", login(clouds.a, "ada")["access"]).json()["edges"]
        }
        assert {EDGE, OTHER} <= seen  # an admin sees every edge

        await still_serving(clouds, edge, username="otto")  # his own edge still works


# -- edge API keys -------------------------------------------------------------------------


def _random_key() -> str:
    return f"ems_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


@pytest.mark.asyncio
@pytest.mark.parametrize("case", ["wrong", "another_edges", "malformed"])
async def test_a_wrong_key_is_refused(clouds: Clouds, case: str) -> None:
    key = {
        "wrong": _random_key(),
        "another_edges": clouds.keys[EDGE],  # a real key, of sec-1, claiming sec-2
        "malformed": "' OR 1=1 --",
    }[case]
    async with hand_edge(clouds.b, EDGE, clouds.keys[EDGE]) as edge:
        ws = await edge_socket(clouds.b, OTHER, key)
        code, reason, frames = await refused(ws)
        assert (code, reason, frames) == (4401, "unknown edge or wrong API key", [])
        await still_serving(clouds, edge)


@pytest.mark.asyncio
async def test_a_rotated_out_key_is_refused_and_its_live_socket_closed(clouds: Clouds) -> None:
    old = clouds.keys[OTHER]
    new = clouds.cli("auth", "create-edge-key", OTHER, "--label", "rotation").strip()
    clouds.keys[OTHER] = new
    # During the rollover both keys work.
    async with hand_edge(clouds.b, OTHER, new):
        pass
    async with hand_edge(clouds.b, OTHER, old) as edge:
        old_id = old.split("_")[1]
        clouds.cli("auth", "revoke-edge-keys", OTHER, "--key-id", old_id)
        assert await asyncio.wait_for(edge.closed, WAIT_S) == (4401, "API key revoked")
    ws = await edge_socket(clouds.b, OTHER, old)
    code, reason, _ = await refused(ws)
    assert (code, reason) == (4401, "unknown edge or wrong API key")
    # The new key serves; commands reach the edge through it.
    async with hand_edge(clouds.b, OTHER, new) as edge:
        ws = await dashboard(clouds.a, login(clouds.a, "olga")["access"])
        cmd = mode_command(OTHER)
        await ws.send(json.dumps(cmd))
        await edge.command(cmd["command_id"])
        await ws.close()


# -- the embedded default: one process, no Redis server --------------------------------------


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudSite]:
    """One ``ems cloud`` on the embedded stores (as ``ems demo``), reloading revocations
    often so the test of the database safety net is quick."""
    site = CloudSite(
        tmp_path_factory.mktemp("attacks-alone"), env={"EMS_REVOCATION_REFRESH_S": "0.5"}
    )
    site.create_accounts((EDGE,), grants=(EDGE,))
    site.create_user("rita", "operator", (EDGE,))
    site.create_user("rex", "operator", (EDGE,))
    try:
        site.start_cloud()
        yield site
    finally:
        site.stop()


@pytest.mark.asyncio
async def test_logout_on_the_embedded_store_closes_the_socket_and_refuses_the_token(
    alone: CloudSite,
) -> None:
    tokens = login(alone, "rita")
    ws = await _listening(alone, tokens["access"])
    r = post(alone, "/auth/logout", headers={"Authorization": f"Bearer {tokens['access']}"})
    assert r.status_code == 200, r.text
    code, reason, _ = await refused(ws)
    assert (code, reason) == (4401, "token revoked")
    async with connect(alone.ws(f"/ws/ui?token={tokens['access']}")) as ws:
        assert (await refused(ws))[:2] == (4401, "revoked")
    assert api(alone, "/api/edges", tokens["access"]).status_code == 401
    assert api(alone, "/api/edges", login(alone, "olga")["access"]).status_code == 200


@pytest.mark.asyncio
async def test_a_revoke_from_a_shell_without_redis_reaches_the_embedded_cloud(
    alone: CloudSite,
) -> None:
    """``ems auth revoke-user`` in another process cannot reach the embedded store's
    pub/sub; the cloud finds the revocation in the auth database at its next reload."""
    access = login(alone, "rex")["access"]
    ws = await _listening(alone, access)
    ems_cli("auth", "revoke-user", "rex", data=alone.data)
    code, reason, _ = await refused(ws)
    assert (code, reason) == (4401, "token revoked")
    assert api(alone, "/api/edges", access).status_code == 401
