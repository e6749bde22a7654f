"""The per-edge offline queue on the embedded store (fakeredis): the shared checks."""

from __future__ import annotations

import json

import pytest

from ems.cloud.shared import (
    ExpiredInQueue,
    OfflineQueue,
    ToDeliver,
)
from support.conformance.shared import QUEUE_CHECKS, T0, Check, Clients


@pytest.mark.asyncio
@pytest.mark.parametrize("check", QUEUE_CHECKS.values(), ids=list(QUEUE_CHECKS))
async def test_queue(clients: Clients, check: Check) -> None:
    await check(clients)


@pytest.mark.asyncio
async def test_items_are_json_with_the_three_fields(clients: Clients) -> None:
    client = clients()
    queue = OfflineQueue(client, "p")
    await queue.push("edge-1", "cmd-1", '{"action":"set"}', T0 + 0.1)
    [item] = await client.lrange("p:queue:edge-1", 0, -1)
    assert json.loads(item) == {
        "command_id": "cmd-1",
        "expires_at_s": T0 + 0.1,
        "payload": '{"action":"set"}',
    }
    assert await client.zscore("p:queue-expiry:edge-1", item) == T0 + 0.1


@pytest.mark.asyncio
async def test_expiry_round_trips_exactly_through_recover(clients: Clients) -> None:
    """recover() re-indexes expiries parsed in Lua: the double must survive to the last bit."""
    queue = OfflineQueue(clients(), "p")
    expires_at_s = T0 + 0.1 + 1e-6  # needs all 17 significant digits
    await queue.push("edge-1", "cmd-1", "p", expires_at_s)
    assert isinstance(await queue.take_for_delivery("edge-1", "w", now_s=T0), ToDeliver)
    assert await queue.recover("w") == 1
    assert await queue.expire(expires_at_s - 1e-6) == []
    taken = await queue.take_for_delivery("edge-1", "w", now_s=expires_at_s)
    assert isinstance(taken, ExpiredInQueue)
    assert taken.expired.expires_at_s == expires_at_s


@pytest.mark.asyncio
async def test_expire_stops_at_its_limit(clients: Clients) -> None:
    queue = OfflineQueue(clients(), "p")
    for edge in ("edge-1", "edge-2"):
        for i in range(3):
            await queue.push(edge, f"{edge}-{i}", "p", T0 + i)
    first = await queue.expire(T0 + 10, limit=4)
    assert len(first) == 4
    rest = await queue.expire(T0 + 10, limit=4)
    assert len(rest) == 2
    assert {c.command_id for c in first} | {c.command_id for c in rest} == {
        f"{edge}-{i}" for edge in ("edge-1", "edge-2") for i in range(3)
    }


@pytest.mark.asyncio
async def test_rejects_bad_arguments(clients: Clients) -> None:
    client = clients()
    with pytest.raises(ValueError, match="limit"):
        OfflineQueue(client, limit=0)
    queue = OfflineQueue(client)
    with pytest.raises(ValueError, match="finite"):
        await queue.push("edge-1", "cmd-1", "p", float("inf"))
    with pytest.raises(ValueError, match="limit"):
        await queue.expire(T0, limit=0)
    assert await queue.edges_with_queues() == []
