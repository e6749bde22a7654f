"""Attacks on the cloud's inputs, one test each, against real ``ems cloud`` processes.

Every test shows three things: the attack is refused with its stable code or
reason; nothing was executed (the hand-driven edge never got the command: a
later, legitimate command reaches it over the same socket, and commands to
one edge go out in order, so an earlier one would have arrived first); and
the service still serves everyone else right after (another user's command
runs to ``executed``, another address or edge is let in).

Sites: ``site`` with the default limits (10 commands/s per user, 100 acks/s
per edge, 64 KiB from dashboards); ``tight`` with low HTTP, login and edge
frame limits, attacked from distinct loopback addresses (127.0.0.x) so each
test has its own buckets; ``pair``, two cloud processes on one real Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from support.site import PASSWORD, CloudSite, command, edge_socket, next_of

MODE = {"action": "set_mode", "value": "manual"}  # no dynamic limits: no telemetry needed
INVENTORY = {"type": "inventory", "devices": [{"id": "battery_1", "profile": "battery"}]}
#: Operators besides olga: each test that spends a user's command budget has its own.
OPERATORS = ("otto", "rita", "remy", "inez", "mara")
INJECTIONS = [
    "' OR '1'='1",
    "site-1'; DROP TABLE telemetry; --",
    "../../etc/passwd",
    "site-1\x00",
    "ems:inflight:deadline",
    "ＳＩＴＥ-1",
    "\u202eevil",
    "a" * 5000,
]
FOREIGN = "https://evil.example"
DASHBOARD = "https://dash.example"


def _stamp(delta_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).isoformat().replace("+00:00", "Z")


def _make_site(data: Any, env: dict[str, str], edges: tuple[str, ...]) -> CloudSite:
    site = CloudSite(data, env=env)
    site.create_accounts(edges)
    for name in OPERATORS:
        site.create_user(name, "operator", ("*",))  # granted every edge
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudSite]:
    env = {"EMS_ALLOWED_ORIGINS": json.dumps([DASHBOARD])}
    site = _make_site(tmp_path_factory.mktemp("attacks"), env, ("site-1", "site-2"))
    try:
        cloud = site.start_cloud()
        asyncio.run(_report_inventory(site, "site-1"))
        cloud.wait_for("edge site-1 inventory", 30)
        yield site
    finally:
        site.stop()


async def _report_inventory(site: CloudSite, edge_id: str) -> None:
    async with driven_edge(site, edge_id):
        pass


_tokens: dict[tuple[int, str], str] = {}


def token(site: CloudSite, user: str) -> str:
    """One token per user and site (the token endpoint is rate-limited too)."""
    key = (site.port, user)
    if key not in _tokens:
        _tokens[key] = site.token(user)
    return _tokens[key]


@asynccontextmanager
async def ui(site: CloudSite, user: str) -> AsyncIterator[ClientConnection]:
    ws = await connect(site.ws(f"/ws/ui?token={token(site, user)}"))
    try:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"
        yield ws
    finally:
        await ws.close()


class DrivenEdge:
    """A hand-driven edge: reports its battery, acks every command ``executed``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.commands: list[str] = []
        self.errors: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame["type"] == "command":
                    self.commands.append(frame["command_id"])
                    for status in ("delivered", "executed"):
                        await self.ws.send(
                            json.dumps(
                                {
                                    "type": "ack",
                                    "command_id": frame["command_id"],
                                    "status": status,
                                    "at": _stamp(),
                                }
                            )
                        )
                elif frame["type"] == "error":
                    self.errors.append(frame)
                self._changed.set()
        except ConnectionClosed:
            pass

    async def wait(self, what: str, timeout_s: float = 10.0) -> None:
        """Until a command ``what`` arrived or an error with code ``what``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while what not in self.commands and what not in [e["code"] for e in self.errors]:
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), deadline - loop.time())

    async def next_error(self, seen: int, timeout_s: float = 10.0) -> dict[str, Any]:
        """The error frame after the first ``seen`` ones."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(self.errors) <= seen:
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
        return self.errors[seen]

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


@asynccontextmanager
async def driven_edge(
    site: CloudSite, edge_id: str, key: str | None = None
) -> AsyncIterator[DrivenEdge]:
    ws = await edge_socket(site, edge_id, key or site.key(edge_id))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"
    await ws.send(json.dumps(INVENTORY))
    edge = DrivenEdge(ws)
    try:
        yield edge
    finally:
        await edge.close()


async def still_served(site: CloudSite, edge: DrivenEdge, user: str = "otto") -> None:
    """Another user's command runs to ``executed`` through ``edge``."""
    async with ui(site, user) as ws:
        cmd = command(edge_id="site-1", **MODE)
        await ws.send(json.dumps(cmd))
        received = await next_of(ws, "ack", command_id=cmd["command_id"])
        assert received["status"] == "received", received
        await next_of(ws, "ack", command_id=cmd["command_id"], status="executed")
    await edge.wait(cmd["command_id"])


async def answer(ws: ClientConnection, command_id: str) -> dict[str, Any]:
    """The answer to a command frame: an error frame, or an ack about ``command_id``."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["type"] == "error" or frame.get("command_id") == command_id:
            return frame


async def closed_with(ws: ClientConnection) -> tuple[int | None, str]:
    """The close code and reason the cloud sent (frames before it are skipped)."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as closed:
        rcvd = closed.rcvd
        return (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")


# -- replay and freshness ------------------------------------------------------------


@pytest.mark.asyncio
async def test_replayed_command_id(site: CloudSite) -> None:
    async with driven_edge(site, "site-1") as edge, ui(site, "olga") as ws:
        cmd = command(**MODE)
        await ws.send(json.dumps(cmd))
        assert (await next_of(ws, "ack", command_id=cmd["command_id"]))["status"] == "received"
        await edge.wait(cmd["command_id"])
        for replay in (cmd, {**cmd, "value": "auto", "issued_at": _stamp()}):
            await ws.send(json.dumps(replay))
            ack = await next_of(ws, "ack", command_id=cmd["command_id"], status="rejected")
            assert ack["reason"] == "replay"
        await still_served(site, edge)
        assert edge.commands.count(cmd["command_id"]) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("skew_s", [-61.0, 61.0, -3600.0])
async def test_stale_issued_at(site: CloudSite, skew_s: float) -> None:
    async with driven_edge(site, "site-1") as edge, ui(site, "olga") as ws:
        cmd = command(issued_at=_stamp(skew_s), **MODE)
        await ws.send(json.dumps(cmd))
        ack = await next_of(ws, "ack", command_id=cmd["command_id"])
        assert (ack["status"], ack["reason"]) == ("rejected", "stale_timestamp")
        assert "server time" in ack["detail"]
        await still_served(site, edge)
        assert cmd["command_id"] not in edge.commands


# -- rate limits ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_eleventh_command_within_one_second(site: CloudSite) -> None:
    """10 commands/s per user, burst 10: sent back to back, the 11th is rate_limited
    (unless a token came back meanwhile, 100 ms later); the refused id is not used up."""
    async with driven_edge(site, "site-1") as edge, ui(site, "rita") as ws:
        cmds = [command(**MODE) for _ in range(20)]
        for cmd in cmds:  # all at once, without waiting for acks
            await ws.send(json.dumps(cmd))
        acks = [await next_of(ws, "ack", command_id=c["command_id"]) for c in cmds]
        statuses = [a["status"] if a["status"] == "received" else a["reason"] for a in acks]
        assert set(statuses) == {"received", "rate_limited"}, statuses
        assert statuses[:10] == ["received"] * 10
        first = datetime.fromisoformat(acks[0]["at"])
        for i, ack in enumerate(acks[10:], start=10):
            # Beyond the burst, a command passes only on a token earned since the first.
            earned = (datetime.fromisoformat(ack["at"]) - first).total_seconds() / 0.1
            assert statuses[:i].count("received") <= 10 + earned, (i, statuses)
        limited = next(a for a in acks if a["status"] == "rejected")
        assert limited["reason"] == "rate_limited"
        assert 0 < _retry_s(limited) <= 1.0

        # Another user is not limited by rita's bucket.
        await still_served(site, edge)
        received = [c["command_id"] for c, s in zip(cmds, statuses, strict=True) if s == "received"]
        refused = [c["command_id"] for c, s in zip(cmds, statuses, strict=True) if s != "received"]
        assert [c for c in edge.commands if c in received + refused] == received  # in order

        # The refused command, sent again once the bucket allows, is accepted: its id was
        # not used up by the refusal.
        again = next(c for c in cmds if c["command_id"] == limited["command_id"])
        for _ in range(30):  # as a client does: wait as told, send the same frame again
            await asyncio.sleep(_retry_s(limited))
            await ws.send(json.dumps(again))
            limited = await next_of(ws, "ack", command_id=again["command_id"])
            if limited["reason"] != "rate_limited":
                break
        assert limited["status"] == "received", limited
        await edge.wait(again["command_id"])


def _retry_s(ack: dict[str, Any]) -> float:
    found = re.search(r"retry in ([0-9.]+) s", ack["detail"])
    assert found is not None, ack
    return float(found.group(1))


@pytest.mark.asyncio
async def test_ack_flood_from_an_edge(site: CloudSite) -> None:
    """site-2 sends 500 acks at once: read at 100/s (never dropped, never a second
    status), told with rate_limited once, not per ack; site-1 and its users carry on meanwhile."""
    assert site.cloud is not None
    async with driven_edge(site, "site-1") as edge, driven_edge(site, "site-2") as flooder:
        forged = str(uuid.uuid4())
        for _ in range(500):
            await flooder.ws.send(
                json.dumps(
                    {"type": "ack", "command_id": forged, "status": "executed", "at": _stamp()}
                )
            )
        await flooder.wait("rate_limited")
        error = next(e for e in flooder.errors if e["code"] == "rate_limited")
        assert "100 acks/s" in error["detail"]
        site.cloud.wait_for("edge site-2: over 100 acks/s", 10)
        await still_served(site, edge, user="remy")  # while site-2 is still being throttled
        # Told once (at most every 10 s), not per ack.
        assert [e["code"] for e in flooder.errors].count("rate_limited") == 1


# -- frames --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_oversized_frame_from_a_dashboard(site: CloudSite) -> None:
    async with driven_edge(site, "site-1") as edge, ui(site, "olga") as ws:
        big = command(**MODE)
        big["detail"] = "x" * (64 * 1024)
        await ws.send(json.dumps(big))
        code, _ = await closed_with(ws)
        assert code == 1009
        await still_served(site, edge)
        assert big["command_id"] not in edge.commands


@pytest.mark.asyncio
async def test_malformed_json_keeps_the_socket_usable(site: CloudSite) -> None:
    async with driven_edge(site, "site-1") as edge, ui(site, "olga") as ws:
        for raw in ('{"type": "command", "command_id": ', "\x00\xff", "[]", "null"):
            await ws.send(raw)
            error = await next_of(ws, "error")
            assert error["code"] == "malformed_json", (raw, error)
        cmd = command(**MODE)  # the same socket, right after
        await ws.send(json.dumps(cmd))
        assert (await next_of(ws, "ack", command_id=cmd["command_id"]))["status"] == "received"
        await edge.wait(cmd["command_id"])


@pytest.mark.asyncio
async def test_extra_field(site: CloudSite) -> None:
    async with driven_edge(site, "site-1") as edge, ui(site, "olga") as ws:
        cmd = command(**MODE, user="admin")
        await ws.send(json.dumps(cmd))
        ack = await next_of(ws, "ack", command_id=cmd["command_id"])
        assert (ack["status"], ack["reason"]) == ("rejected", "invalid_payload")
        assert "user: unknown field" in ack["detail"]
        await ws.send(json.dumps({"type": "subscribe", "edge_id": "site-1", "all": True}))
        assert (await next_of(ws, "error"))["code"] == "invalid_payload"
        await still_served(site, edge)
        assert cmd["command_id"] not in edge.commands


@pytest.mark.asyncio
async def test_injection_strings_in_ids_and_names(site: CloudSite) -> None:
    async with driven_edge(site, "site-1") as edge, ui(site, "olga") as ws:
        sent: list[str] = []
        for bad in INJECTIONS:
            for field in ("edge_id", "device", "action", "command_id"):
                cmd = command(**{**MODE, field: bad})
                sent.append(cmd["command_id"])
                await ws.send(json.dumps(cmd))
                frame = await answer(ws, cmd["command_id"])
                # A readable command id gets a rejected ack, anything else an error frame.
                code = frame.get("reason") or frame.get("code")
                assert code == "invalid_payload", (field, bad, frame)
            await ws.send(json.dumps({"type": "subscribe", "edge_id": bad}))
            assert (await next_of(ws, "error"))["code"] == "invalid_payload"
            # Channel names (and device ids) in an edge's telemetry and inventory.
            for frame in (
                {
                    "type": "telemetry",
                    "seq": 1,
                    "ts": _stamp(),
                    "channels": {bad: {"v": 1, "t": _stamp()}},
                },
                {
                    "type": "telemetry",
                    "seq": 1,
                    "ts": _stamp(),
                    "channels": {f"battery_1/{bad}": {"v": 1, "t": _stamp()}},
                },
                {"type": "inventory", "devices": [{"id": bad, "profile": "battery"}]},
            ):
                seen = len(edge.errors)
                await edge.ws.send(json.dumps(frame))
                assert (await edge.next_error(seen))["code"] == "invalid_payload", frame
        headers = {"Authorization": f"Bearer {token(site, 'olga')}"}
        async with httpx.AsyncClient(headers=headers) as http:
            for bad in INJECTIONS:
                q = quote(bad, safe="")
                for path in (
                    f"/api/edges/{q}/telemetry?channel=battery_1/Soc",
                    f"/api/commands/{q}",
                    f"/api/profiles/{q}",
                ):
                    r = await http.get(site.http(path))
                    assert r.status_code in (404, 422), (path, r.status_code)
                for path in (
                    f"/api/edges/site-1/telemetry?channel={q}",
                    f"/api/commands?edge_id={q}",
                ):
                    r = await http.get(site.http(path))
                    assert r.status_code == 422, (path, r.status_code)
            r = await http.get(site.http("/api/commands?edge_id=site-1&evil=1"))
            assert r.status_code == 422 and "evil" in r.text  # unknown query parameter
        # An edge claiming an injected id gets no further than its auth frame.
        for bad in INJECTIONS[:3]:
            intruder = await edge_socket(site, bad, site.key("site-1"))
            code, _ = await closed_with(intruder)
            assert code == 4401
        await still_served(site, edge)
        assert not set(sent) & set(edge.commands)


# -- origins -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_foreign_origin_on_the_websocket(site: CloudSite) -> None:
    async with driven_edge(site, "site-1") as edge:
        ws = await connect(
            site.ws(f"/ws/ui?token={token(site, 'olga')}"),
            origin=FOREIGN,  # type: ignore[arg-type]
        )
        code, reason = await closed_with(ws)
        assert (code, reason) == (4403, "origin not allowed")
        allowed = await connect(
            site.ws(f"/ws/ui?token={token(site, 'olga')}"),
            origin=DASHBOARD,  # type: ignore[arg-type]
        )
        assert json.loads(await asyncio.wait_for(allowed.recv(), 5))["type"] == "auth_ok"
        await allowed.close()
        await still_served(site, edge)


@pytest.mark.asyncio
async def test_cors_preflight_from_a_foreign_origin(site: CloudSite) -> None:
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    async with httpx.AsyncClient() as http:
        foreign = await http.options(
            site.http("/api/edges"), headers={"Origin": FOREIGN, **preflight}
        )
        assert "access-control-allow-origin" not in foreign.headers
        assert "access-control-allow-headers" not in foreign.headers
        assert foreign.status_code >= 400
        ours = await http.options(
            site.http("/api/edges"), headers={"Origin": DASHBOARD, **preflight}
        )
        assert ours.headers["access-control-allow-origin"] == DASHBOARD
        # A simple cross-site read gets no allow header either: the browser hides the answer.
        r = await http.get(site.http("/api/profiles"), headers={"Origin": FOREIGN})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


# -- HTTP limits, login limits and headers (the tight site) ---------------------------


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudSite]:
    env = {
        "EMS_HTTP_RATE_PER_S": "0.5",
        "EMS_HTTP_BURST": "5",
        "EMS_EDGE_LOGIN_FAILURES_PER_MIN": "1",
        "EMS_EDGE_LOGIN_FAILURES_BURST": "3",
        "EMS_EDGE_MAX_FRAME_BYTES": str(128 * 1024),
    }
    site = _make_site(tmp_path_factory.mktemp("tight"), env, ("site-1",))
    try:
        site.start_cloud()
        yield site
    finally:
        site.stop()


def _client(address: str, **kwargs: Any) -> httpx.AsyncClient:
    """HTTP from a loopback address of its own (its own rate-limit buckets)."""
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=address), **kwargs)


async def _edge_from(site: CloudSite, address: str, key: str) -> ClientConnection:
    ws = await connect(site.ws("/ws/edge"), local_addr=(address, 0))
    auth = {"type": "auth", "edge_id": "site-1", "api_key": key, "edge_time": _stamp()}
    with contextlib.suppress(ConnectionClosed):  # refused before its key was read
        await ws.send(json.dumps(auth))
    return ws


@pytest.mark.asyncio
async def test_http_flood_from_one_address(tight: CloudSite) -> None:
    async with _client("127.0.0.3") as flood, _client("127.0.0.4") as other:
        statuses = [(await flood.get(tight.http("/api/profiles"))).status_code for _ in range(7)]
        assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
        refused = await flood.get(tight.http("/api/profiles"))
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert (await flood.get(tight.http("/healthz"))).status_code == 200  # not limited
        assert (await other.get(tight.http("/api/profiles"))).status_code == 200


@pytest.mark.asyncio
async def test_failed_edge_logins_per_address(tight: CloudSite) -> None:
    for _ in range(3):
        wrong = await _edge_from(tight, "127.0.0.5", "wrong-key-" + "x" * 30)
        assert (await closed_with(wrong))[0] == 4401
    right = await _edge_from(tight, "127.0.0.5", tight.key("site-1"))  # even the right key
    code, reason = await closed_with(right)
    assert code == 4429 and reason.startswith("rate_limited")
    elsewhere = await _edge_from(tight, "127.0.0.6", tight.key("site-1"))
    assert json.loads(await asyncio.wait_for(elsewhere.recv(), 5))["type"] == "auth_ok"
    await elsewhere.close()


@pytest.mark.asyncio
async def test_login_brute_force(tight: CloudSite) -> None:
    """Five wrong passwords for mara from five addresses: the sixth try is refused
    without a look at the password, the right one included; vic still signs in."""
    for i in range(5):
        async with _client(f"127.0.1.{i + 1}") as http:
            r = await http.post(
                tight.http("/auth/token"), json={"username": "mara", "password": f"guess-{i}"}
            )
            assert r.status_code == 401
    async with _client("127.0.1.9") as http:
        r = await http.post(
            tight.http("/auth/token"), json={"username": "mara", "password": PASSWORD}
        )
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        r = await http.post(
            tight.http("/auth/token"), json={"username": "vic", "password": PASSWORD}
        )
        assert r.status_code == 200


@pytest.mark.asyncio
async def test_oversized_frame_from_an_edge(tight: CloudSite) -> None:
    ws = await _edge_from(tight, "127.0.0.7", tight.key("site-1"))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"
    channels = {f"battery_1/C{i}": {"v": "x" * 200, "t": _stamp()} for i in range(700)}
    await ws.send(json.dumps({"type": "telemetry", "seq": 1, "ts": _stamp(), "channels": channels}))
    assert (await closed_with(ws))[0] == 1009
    again = await _edge_from(tight, "127.0.0.7", tight.key("site-1"))
    assert json.loads(await asyncio.wait_for(again.recv(), 5))["type"] == "auth_ok"
    await again.close()


@pytest.mark.asyncio
async def test_security_headers(tight: CloudSite) -> None:
    async with _client("127.0.0.8") as http:
        for path in ("/api/profiles", "/auth/jwks.json", "/healthz", "/", "/docs"):
            r = await http.get(tight.http(path))
            assert r.status_code < 500, path
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["referrer-policy"], path
            assert r.headers["cross-origin-opener-policy"] == "same-origin", path
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
            assert r.headers["x-frame-options"].upper() == "DENY", path
            assert "strict-transport-security" not in r.headers, path  # plain http
        docs = await http.get(tight.http("/docs"))
        assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]


# -- two cloud processes -------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[tuple[CloudSite, CloudSite]]:
    data = tmp_path_factory.mktemp("pair")
    env = {"EMS_REDIS_URL": redis_url}
    a = _make_site(data, {**env, "EMS_NODE_ID": "attack-a"}, ("site-1",))
    b = CloudSite(data, env={**env, "EMS_NODE_ID": "attack-b"})
    try:
        a.start_cloud()
        b.start_cloud()
        asyncio.run(_report_inventory(a, "site-1"))
        a.cloud.wait_for("edge site-1 inventory", 30)  # type: ignore[union-attr]
        yield a, b
    finally:
        b.stop()
        a.stop()


@pytest.mark.asyncio
async def test_replay_across_cloud_processes(pair: tuple[CloudSite, CloudSite]) -> None:
    a, b = pair
    async with driven_edge(a, "site-1") as edge:
        cmd = command(**MODE)
        async with ui(a, "olga") as on_a:
            await on_a.send(json.dumps(cmd))
            assert (await next_of(on_a, "ack", command_id=cmd["command_id"]))[
                "status"
            ] == "received"
        await edge.wait(cmd["command_id"])
        async with ui(b, "olga") as on_b:
            await on_b.send(json.dumps(cmd))
            ack = await next_of(on_b, "ack", command_id=cmd["command_id"], status="rejected")
            assert ack["reason"] == "replay"
        await still_served(b, edge)  # through B, to the edge held by A
        assert edge.commands.count(cmd["command_id"]) == 1
