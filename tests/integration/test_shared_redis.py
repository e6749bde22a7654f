"""The in-flight set and the offline queue on a real redis-server, plus the server helper.

The same checks as the unit tests (which run on the embedded store), then what
only a real server shows: data surviving a restart (append-only file), and
scripts reloaded after the restart emptied the server's script cache.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as redis_async

from ems.cloud.shared import InFlight, OfflineQueue, ToDeliver, shared_redis
from support.conformance.cluster import CLUSTER_CHECKS
from support.conformance.shared import CHECKS, T0, Check, Clients
from support.redis import RedisNotFound, RunningRedis, find_redis_server, start_redis


@pytest_asyncio.fixture
async def clients(redis_url: str) -> AsyncIterator[Clients]:
    made = Clients(lambda: shared_redis(redis_url))
    yield made
    await made.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "check", [*CHECKS.values(), *CLUSTER_CHECKS.values()], ids=[*CHECKS, *CLUSTER_CHECKS]
)
async def test_contract(clients: Clients, check: Check) -> None:
    await check(clients)


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["restart", "kill_then_restart"])
async def test_queue_and_inflight_survive_a_restart(redis_server: RunningRedis, how: str) -> None:
    """appendonly + appendfsync always: all 100 commands come back, in order."""
    client = shared_redis(redis_server.url)
    try:
        queue, inflight = OfflineQueue(client), InFlight(client)
        for i in range(100):
            result = await queue.push("edge-1", f"cmd-{i:03}", f'{{"n":{i}}}', T0 + 60)
            assert result.position == i + 1
        taken = await queue.take_for_delivery("edge-1", "worker-a", now_s=T0)  # in delivery
        assert isinstance(taken, ToDeliver)
        await inflight.add("sent-1", "edge-2", T0 + 5, b"payload")
    finally:
        await client.aclose()

    pid = redis_server.pid
    if how == "kill_then_restart":
        redis_server.kill()  # a crash: no shutdown, nothing flushed on the way out
        assert not redis_server.running
    redis_server.restart()
    assert redis_server.pid not in (None, pid)

    client = shared_redis(redis_server.url)
    try:
        # The restarted server has no scripts cached: every call must reload its script.
        assert await client.script_exists(queue._take.sha) == [False]
        queue, inflight = OfflineQueue(client), InFlight(client)
        assert await queue.depth("edge-1") == 99
        assert await queue.recover("worker-a") == 1
        assert await queue.depth("edge-1") == 100
        order = []
        while (t := await queue.take_for_delivery("edge-1", "worker-b", now_s=T0)) is not None:
            assert isinstance(t, ToDeliver)
            assert t.command.payload == f'{{"n":{int(t.command.command_id[4:])}}}'
            order.append(t.command.command_id)
        assert order == [f"cmd-{i:03}" for i in range(100)]
        [entry] = await inflight.claim_expired(T0 + 5)
        assert (entry.command_id, entry.edge_id, entry.payload) == ("sent-1", "edge-2", b"payload")
    finally:
        await client.aclose()


@pytest.mark.asyncio
async def test_server_is_private_and_throwaway(redis_url: str) -> None:
    client = redis_async.Redis.from_url(redis_url)
    try:
        config = await client.config_get("*")
    finally:
        await client.aclose()
    assert config["bind"] == "127.0.0.1"
    assert config["protected-mode"] == "yes"
    assert config["save"] == ""
    assert config["appendonly"] == "no"
    assert config["daemonize"] == "no"


@pytest.mark.usefixtures("redis_url")  # skips (or fails on CI) like the other tests here
def test_restart_without_appendonly_starts_empty(tmp_path: Path) -> None:
    with start_redis(tmp_path) as server:
        assert server.dir.parent == tmp_path
        _send(server, b"SET k v\r\n")
        server.restart()
        assert _send(server, b"GET k\r\n") == b"$-1\r\n"
        directory = server.dir
    assert not directory.exists()
    assert not server.running
    server.stop()  # idempotent


def test_missing_redis_server_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RedisNotFound, match="apt-get install redis-server"):
        find_redis_server()
    with pytest.raises(RedisNotFound):
        start_redis()


def _send(server: RunningRedis, command: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(command)
        return sock.recv(1024)
