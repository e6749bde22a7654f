"""Faults with real processes and a real Redis: frozen edge, cloud crash, Redis restart.

Checked: every command ends in exactly one final status, a command reported
as timed out is never carried out later, and queued commands survive a crash
of the cloud process and a restart of Redis.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator

import pytest

from support.redis import RunningRedis, start_redis
from support.site import CloudSite, command, next_of

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRedis]:
    with start_redis(tmp_path_factory.mktemp("redis"), appendonly=True, appendfsync="always") as r:
        yield r


@pytest.fixture(scope="module")
def site(redis: RunningRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudSite]:
    site = CloudSite(tmp_path_factory.mktemp("faults"), env={"EMS_REDIS_URL": redis.url})
    site.create_accounts(("site-1", "site-2", "site-3"))
    try:
        site.start_cloud()
        for offline in ("site-2", "site-3"):  # known to the cloud, then gone
            site.start_edge(offline)
            assert site.edges.pop(offline).stop() == 0
        site.start_edge("site-1")
        asyncio.run(site.first_telemetry())
        yield site
    finally:
        site.stop()


async def test_frozen_edge_never_applies_a_timed_out_command(site: CloudSite) -> None:
    edge = site.edges["site-1"]
    ws = await site.ui()
    try:
        await ws.send(json.dumps({"type": "subscribe", "edge_id": "site-1"}))
        edge.signal(signal.SIGSTOP)
        try:
            cmd = command(value=-1234)
            await ws.send(json.dumps(cmd))
            assert (await next_of(ws, "ack", command_id=cmd["command_id"]))["status"] == "received"
            failed = await next_of(ws, "ack", timeout_s=10, command_id=cmd["command_id"])
            assert (failed["status"], failed["reason"]) == ("failed", "edge_timeout")
        finally:
            edge.signal(signal.SIGCONT)
        # The edge wakes up with the command in its socket buffer: past its
        # deadline, it refuses it, and the cloud only audits that late answer.
        site.cloud.wait_for(f"command {cmd['command_id']} cloud.late_ack", 20)  # type: ignore[union-attr]
        setpoints = []
        for _ in range(4):
            frame = await next_of(ws, "telemetry", timeout_s=5)
            setpoints.append(frame["channels"]["battery_1/SetActivePower"]["v"])
        assert -1234 not in setpoints, setpoints
        with pytest.raises(TimeoutError):
            await next_of(ws, "ack", timeout_s=1.5, command_id=cmd["command_id"])
    finally:
        await ws.close()


#: Three commands on three different request channels of one site, so none
#: supersedes another when they arrive within one cycle.
QUEUED = [
    {"device": "battery_1", "action": "set_active_power", "value": -300.0},
    {"device": "pv_1", "action": "set_active_power_limit", "value": 2500.0},
    {"device": "battery_1", "action": "set_mode", "value": "manual"},
]


async def _queue(site: CloudSite, edge_id: str) -> list[str]:
    ws = await site.ui()
    try:
        ids = []
        for fields in QUEUED:
            cmd = command(edge_id=edge_id, ttl_s=600, **fields)
            await ws.send(json.dumps(cmd))
            assert (await next_of(ws, "ack", command_id=cmd["command_id"]))["status"] == "queued"
            ids.append(cmd["command_id"])
        return ids
    finally:
        await ws.close()


async def _drained(site: CloudSite, edge_id: str, ids: list[str]) -> None:
    """Start the edge: every queued command is delivered in order, then executed."""
    ws = await site.ui()
    try:
        site.start_edge(edge_id)
        delivered: list[str] = []
        final: dict[str, str] = {}
        while len(final) < len(ids):
            ack = await next_of(ws, "ack", timeout_s=20)
            if ack["command_id"] not in ids:
                continue
            if ack["status"] == "delivered":
                delivered.append(ack["command_id"])
            elif ack["status"] in ("executed", "failed", "rejected"):
                assert ack["command_id"] not in final, "two final statuses"
                final[ack["command_id"]] = f"{ack['status']} {ack['reason'] or ''}".strip()
        assert delivered == ids, "FIFO"
        assert final == dict.fromkeys(ids, "executed")
    finally:
        await ws.close()
        assert site.edges.pop(edge_id).stop() == 0


async def test_cloud_killed_with_queued_commands_delivers_them_after_restart(
    site: CloudSite,
) -> None:
    ids = await _queue(site, "site-2")
    assert site.cloud is not None
    site.cloud.kill()  # no goodbye
    site.start_cloud()
    site.cloud.wait_for("edge site-1 connected", 60)  # the running edge reconnects by itself
    await _drained(site, "site-2", ids)


async def test_redis_restart_keeps_queued_commands(site: CloudSite, redis: RunningRedis) -> None:
    ids = await _queue(site, "site-3")
    redis.restart()
    await _drained(site, "site-3", ids)
