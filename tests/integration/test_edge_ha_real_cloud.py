"""An HA edge pair against the real cloud: ``ems cloud`` on a throwaway Redis and
PostgreSQL, two ``ems edge --ha-node`` processes, ``ems ha witness`` and the SunSpec
devices of ``ems devices serve`` (the failover test's :class:`HaPair`).

- A config stored through the cloud's API is applied by both boxes, and the ack
  (the version's status in the cloud) says so.
- The leader is killed with a command on its way: the other box takes over and
  the cloud sees one edge id whose socket moved to it (still one edge, online,
  the new leader's telemetry); the command ends with exactly one final status in
  the cloud's record and was executed at most once (both boxes' execution logs).
- The new leader runs the config pushed before the failover; a config pushed while
  the killed box is down is acked with the pair's outcome (it did not confirm), and
  the box applies it when it is started again.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.asyncio.client import ClientConnection

from ems.edge.configsync import APPLIED_CONFIG_FILE, AppliedConfigFile
from ems.edge.executions import EXECUTIONS_FILE, read_executions
from ems.protocol import reasons
from support.ha_pair import EDGE_ID, NODES, HaPair
from support.redis import start_redis
from support.site import CloudSite, command, next_of

#: Only a hang reaches these on a loaded machine [s].
TAKEOVER_WAIT_S = 30.0
FRAME_WAIT_S = 30.0
FINAL = {"executed", "failed", "rejected"}
TARGET = "self_consumption/TargetGridW"


@pytest.fixture
def cloud(postgres_url: str, tmp_path: Path) -> Iterator[CloudSite]:
    with start_redis() as redis:
        site = CloudSite(
            tmp_path / "cloud",
            env={"EMS_REDIS_URL": redis.url, "EMS_DATABASE_URL": postgres_url},
        )
        site.data.mkdir()
        site.create_accounts((EDGE_ID,))
        site.create_user("ada", "admin", ("*",))
        try:
            site.start_cloud()
            yield site
        finally:
            site.stop()


def _api(site: CloudSite, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {site.token('ada')}"}
    return httpx.request(method, site.http(path), headers=headers, timeout=10, **kw)


async def _telemetry(ws: ClientConnection, since: datetime, **channels: Any) -> dict[str, Any]:
    """The next telemetry frame stamped ``since`` or later whose channels hold these
    values (``_ha__Node``: the channel ``_ha/Node``)."""
    async with asyncio.timeout(FRAME_WAIT_S):
        while True:
            frame = await next_of(ws, "telemetry", timeout_s=FRAME_WAIT_S)
            if datetime.fromisoformat(frame["ts"]) < since:
                continue  # sent before: perhaps by the other box
            values = {k: v["v"] for k, v in frame["channels"].items()}
            if all(values.get(k.replace("__", "/")) == v for k, v in channels.items()):
                return frame


def _has_version(path: Path, version: int) -> bool:
    applied = AppliedConfigFile(path).load()
    return applied is not None and applied.version == version


async def _push_config(
    site: CloudSite, ws: ClientConnection, document: dict[str, Any]
) -> dict[str, Any]:
    """Store ``document`` through the API; the version's verdict as the dashboard hears
    it. Stored again (a new version) when it reached the pair while the lease was
    moving (``not_leader``, ``ha_not_replicated``: a loaded machine), as an operator
    would."""
    for _ in range(3):
        stored = _api(
            site, "PUT", f"/api/edges/{EDGE_ID}/config", json={"yaml": yaml.safe_dump(document)}
        )
        assert stored.status_code == 201, stored.text
        version = stored.json()["version"]
        async with asyncio.timeout(FRAME_WAIT_S):
            while True:
                status = await next_of(ws, "config_status", timeout_s=FRAME_WAIT_S, version=version)
                if status["status"] in ("applied", "rejected"):
                    break
        if status.get("reason") not in (reasons.NOT_LEADER, reasons.HA_NOT_REPLICATED):
            return status
    return status


async def _settled_leader(pair: HaPair, ws: ClientConnection) -> str:
    """The node that leads by its health endpoint and is heard by the cloud as leader
    afterwards (on a loaded machine the lease may move while the pair starts)."""
    async with asyncio.timeout(TAKEOVER_WAIT_S * 2):
        while True:
            leader = await pair.wait_leader(TAKEOVER_WAIT_S)
            await _telemetry(ws, datetime.now(UTC), _ha__Node=leader, _ha__Leader=True)
            status = await pair.status(leader)
            if status is not None and status.get("role") == "leader":
                return leader


async def _final(ws: ClientConnection, command_id: str) -> str:
    async with asyncio.timeout(FRAME_WAIT_S):
        while True:
            frame = await next_of(ws, "ack", timeout_s=FRAME_WAIT_S, command_id=command_id)
            if frame["status"] in FINAL:
                return str(frame["status"])


def _executions(root: Path, command_id: str) -> int:
    return sum(
        1
        for node in NODES
        for e in read_executions(root / node / "edge" / EDGE_ID / EXECUTIONS_FILE)
        if e.command_id == command_id
    )


def _connections(site: CloudSite) -> int:
    """How often the cloud accepted a socket for the pair's edge id."""
    assert site.cloud is not None
    return site.cloud.output.count(f"edge {EDGE_ID} connected") + site.cloud.output.count(
        f"edge {EDGE_ID} reconnected"
    )


async def _one_edge_online(site: CloudSite) -> bool:
    """The cloud lists the pair as one edge, online (polled: another process's view)."""
    async with asyncio.timeout(TAKEOVER_WAIT_S):
        while True:
            edges = _api(site, "GET", "/api/edges").json()["edges"]
            assert [e["edge_id"] for e in edges] == [EDGE_ID]
            if edges[0]["online"]:
                return True
            await asyncio.sleep(0.2)  # an HTTP view of another process: nothing to await


@pytest.mark.asyncio
async def test_the_pairs_socket_moves_in_the_real_cloud_and_a_command_ends_once(
    cloud: CloudSite, tmp_path: Path
) -> None:
    root = tmp_path / "pair"
    root.mkdir()
    pair = HaPair(cloud, root, api_key=cloud.key(EDGE_ID))
    try:
        await pair.start()
        ws = await cloud.ui("olga")
        try:
            await ws.send(json.dumps({"type": "subscribe", "edge_id": EDGE_ID}))
            await _settled_leader(pair, ws)

            # -- a config through the cloud: both boxes apply it -------------------
            assert pair.config_path is not None
            document = yaml.safe_load(pair.config_path.read_text("utf-8"))
            [sc] = [c for c in document["controllers"] if c["id"] == "self_consumption"]
            sc["params"]["target_grid_w"] = 250
            status = await _push_config(cloud, ws, document)
            version = status["version"]
            assert status["status"] == "applied", json.dumps(status)
            # The ack names the box in control and says the other applied it too.
            match = re.fullmatch(r"applied by (a|b) \(in control\) and by (a|b)", status["detail"])
            assert match is not None and match[1] != match[2], status["detail"]
            for node in NODES:
                applied = AppliedConfigFile(root / node / "edge" / EDGE_ID / APPLIED_CONFIG_FILE)
                assert (found := applied.load()) is not None and found.version == version

            # -- a held setpoint, then the leader killed with a command on its way ----
            held = command(edge_id=EDGE_ID, value=-1500)
            await ws.send(json.dumps(held))
            assert await _final(ws, held["command_id"]) == "executed"
            first = await _settled_leader(pair, ws)  # the lease may have moved meanwhile
            second = "b" if first == "a" else "a"
            before = _connections(cloud)
            in_flight = command(edge_id=EDGE_ID, value=-1200)
            await ws.send(json.dumps(in_flight))
            killed_at = datetime.now(UTC)
            pair.edges[first].kill()
            assert await pair.wait_leader(TAKEOVER_WAIT_S, among=(second,)) == second

            # The cloud: the same edge id, its socket now from the other box, which runs
            # the config pushed before.
            await _telemetry(ws, killed_at, _ha__Node=second, **{TARGET.replace("/", "__"): 250})
            assert _connections(cloud) > before
            assert await _one_edge_online(cloud), pair.edges[second].output[-8000:]

            # The in-flight command: one final status, executed at most once.
            final = await _final(ws, in_flight["command_id"])
            for _ in range(3):  # a few cycles more: no second verdict comes
                await next_of(ws, "telemetry", timeout_s=FRAME_WAIT_S)

            # -- a config while the killed box is down: it applies it when it rejoins --
            sc["params"]["target_grid_w"] = 300
            status = await _push_config(cloud, ws, document)
            assert status["status"] == "applied", json.dumps(status)
            assert f"{first}: not confirmed within" in status["detail"], status["detail"]
            pair.start_edge(first)
            rejoined = root / first / "edge" / EDGE_ID / APPLIED_CONFIG_FILE
            async with asyncio.timeout(TAKEOVER_WAIT_S * 2):
                while not _has_version(rejoined, status["version"]):  # noqa: ASYNC110
                    await asyncio.sleep(0.2)  # another process's file: nothing to await
        finally:
            await ws.close()
        record = _api(cloud, "GET", f"/api/commands/{in_flight['command_id']}").json()
        finals = [h["status"] for h in record["history"] if h["status"] in FINAL]
        assert finals == [final], record["history"]
        ran = _executions(root, in_flight["command_id"])
        assert ran <= 1
        assert (final == "executed") == (ran == 1), (final, ran)
        assert _executions(root, held["command_id"]) == 1
    finally:
        await pair.stop()
