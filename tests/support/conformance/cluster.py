"""What the edge registry, the pub/sub bus and the in-flight hand-over must do, on any store
(and the in-flight set's "only while nothing is queued" step, which direct sends rely on).

Like :mod:`support.conformance.shared`: each check takes a
:class:`~support.conformance.shared.Clients` (several clients of one server
stand for several cloud processes); the unit tests run them on the embedded
store, the integration tests on a real ``redis-server``.
"""

from __future__ import annotations

import asyncio
import uuid

from ems.cloud.shared.bus import Bus
from ems.cloud.shared.inflight import InFlight
from ems.cloud.shared.queue import OfflineQueue
from ems.cloud.shared.registry import EdgeRegistry
from support.conformance.shared import T0, Check, Clients

__all__ = ["CLUSTER_CHECKS"]

_WAIT_S = 5.0  # a message published on one client reaches another within this


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


async def check_registry_newer_claim_wins(clients: Clients) -> None:
    prefix = _prefix()
    a = EdgeRegistry(clients(), "cloud-a", ttl_s=10, key_prefix=prefix)
    b = EdgeRegistry(clients(), "cloud-b", ttl_s=10, key_prefix=prefix)
    assert await a.owner("edge-1") is None
    assert await a.claim("edge-1", T0) is None
    assert await b.owner("edge-1") == "cloud-a"
    assert await b.claim("edge-1", T0 + 1) == "cloud-a"  # the edge reconnected to B
    # A's late release and refresh must not touch B's claim.
    assert await a.release("edge-1") is False
    assert await a.refresh({"edge-1": T0 + 2}) == ["edge-1"]
    assert await a.owners(["edge-1", "edge-2"]) == {"edge-1": "cloud-b", "edge-2": None}
    assert await b.refresh({"edge-1": T0 + 3}) == []
    assert await b.release("edge-1") is True
    assert await a.owner("edge-1") is None
    # When each edge was last heard from outlives the claim.
    assert await a.last_seen() == {"edge-1": T0 + 3}
    assert await a.seen_at(["edge-1", "edge-2"]) == {"edge-1": T0 + 3}


async def check_registry_claims_expire_unless_refreshed(clients: Clients) -> None:
    """The claim's TTL is set on claim and reset by refresh (not waited out: read back)."""
    client, prefix = clients(), _prefix()
    registry = EdgeRegistry(client, "cloud-a", ttl_s=10, key_prefix=prefix)
    await registry.claim("edge-1", T0)
    key = f"{prefix}:edge-owner:edge-1"
    assert 0 < await client.pttl(key) <= 10_000
    await client.pexpire(key, 500)  # as if the process had been silent for 9.5 s
    assert await registry.refresh({"edge-1": T0 + 9.5}) == []
    assert await client.pttl(key) > 9_000
    await client.delete(key)  # expired (frozen longer than the TTL) or lost by Redis
    assert await registry.refresh({"edge-1": T0 + 20}) == []  # the socket is still here
    assert await registry.owner("edge-1") == "cloud-a"
    assert 0 < await client.pttl(key) <= 10_000


async def check_registry_one_process_per_node_id(clients: Clients) -> None:
    client, prefix = clients(), _prefix()
    first = EdgeRegistry(client, "cloud-1", ttl_s=10, key_prefix=prefix)
    second = EdgeRegistry(clients(), "cloud-1", ttl_s=10, key_prefix=prefix)
    other = EdgeRegistry(clients(), "cloud-2", ttl_s=10, key_prefix=prefix)
    assert await first.take_node("instance-1") is True
    assert await second.take_node("instance-2") is False  # the same name, still running
    assert await other.take_node("instance-3") is True  # another name
    assert await second.keep_node("instance-2") is False
    assert await first.keep_node("instance-1") is True
    assert 9_000 < await client.pttl(f"{prefix}:node-lease:cloud-1") <= 10_000
    await second.drop_node("instance-2")  # not its lease: nothing happens
    assert await second.take_node("instance-2") is False
    await first.drop_node("instance-1")  # a clean stop frees the name at once
    assert await second.take_node("instance-2") is True


async def check_registry_wanted_until(clients: Clients) -> None:
    prefix = _prefix()
    holder = EdgeRegistry(clients(), "cloud-b", key_prefix=prefix)
    viewer = EdgeRegistry(clients(), "cloud-a", key_prefix=prefix)
    await viewer.want(["edge-1", "edge-2"], T0 + 10)
    await viewer.want(["edge-2"], T0 + 5)  # an earlier end never shortens a wish
    assert await holder.wanted(T0) == {"edge-1", "edge-2"}
    assert await holder.wanted(T0 + 10) == {"edge-1", "edge-2"}
    assert await holder.wanted(T0 + 10.5) == set()


async def check_inflight_finish_hands_over_the_payload(clients: Clients) -> None:
    """Another process finishing a command gets its payload; only from its own edge."""
    prefix = _prefix()
    sender, finisher = InFlight(clients(), prefix), InFlight(clients(), prefix)
    await sender.add("cmd-1", "edge-1", T0 + 5, b'{"user":"olga"}')
    assert await finisher.contains("cmd-1") is True
    assert await finisher.finish("cmd-1", "edge-2") is None  # another edge's ack
    assert await finisher.contains("cmd-1") is True
    assert await finisher.finish("cmd-1", "edge-1") == b'{"user":"olga"}'
    assert await finisher.contains("cmd-1") is False
    assert await sender.finish("cmd-1", "edge-1") is None  # exactly one owner


async def check_inflight_add_unless_queued(clients: Clients) -> None:
    prefix = _prefix()
    inflight, queue = InFlight(clients(), prefix), OfflineQueue(clients(), prefix)
    key = queue.queue_key("edge-1")
    assert await inflight.add_unless_queued("cmd-1", "edge-1", T0 + 5, b"p1", key) is True
    assert await inflight.contains("cmd-1")
    await queue.push("edge-1", "cmd-q", "queued one", T0 + 60)
    assert await inflight.add_unless_queued("cmd-2", "edge-1", T0 + 5, b"p2", key) is False
    assert not await inflight.contains("cmd-2")  # nothing added
    assert await inflight.count() == 1
    # Another edge's queue does not hold this one back.
    other = queue.queue_key("edge-2")
    assert await inflight.add_unless_queued("cmd-3", "edge-2", T0 + 5, b"p3", other) is True


async def check_bus_delivers_across_clients(clients: Clients) -> None:
    prefix = _prefix()
    got: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    sender = Bus(clients(), lambda _channel, _data: None)
    reader = Bus(clients(), lambda channel, data: got.put_nowait((channel, data)))
    inbox, user = f"{prefix}:node:b", f"{prefix}:user:olga"
    await sender.start()
    await reader.start(inbox)
    try:
        await reader.subscribe(user)
        await reader.subscribe(user)  # two dashboards of olga on this process
        for i in range(3):
            sender.publish(inbox, f"m{i}")
        sender.publish(user, "ack-1")
        received = [await asyncio.wait_for(got.get(), _WAIT_S) for _ in range(4)]
        assert received == [(inbox, b"m0"), (inbox, b"m1"), (inbox, b"m2"), (user, b"ack-1")]

        await reader.unsubscribe(user)  # one dashboard left: still subscribed
        assert reader.subscribed(user)
        sender.publish(user, "ack-2")
        assert await asyncio.wait_for(got.get(), _WAIT_S) == (user, b"ack-2")

        await reader.unsubscribe(user)  # none left
        assert not reader.subscribed(user)
        sender.publish(user, "ack-3")  # nobody here wants it
        sender.publish(inbox, "marker")  # sent after it, so it would arrive after it
        assert await asyncio.wait_for(got.get(), _WAIT_S) == (inbox, b"marker")
        assert sender.stats.dropped == 0
        assert reader.stats.received == 6  # not ack-3
    finally:
        await sender.stop()
        await reader.stop()


CLUSTER_CHECKS: dict[str, Check] = {
    "registry_newer_claim_wins": check_registry_newer_claim_wins,
    "registry_claims_expire_unless_refreshed": check_registry_claims_expire_unless_refreshed,
    "registry_one_process_per_node_id": check_registry_one_process_per_node_id,
    "registry_wanted_until": check_registry_wanted_until,
    "inflight_finish_hands_over_the_payload": check_inflight_finish_hands_over_the_payload,
    "inflight_add_unless_queued": check_inflight_add_unless_queued,
    "bus_delivers_across_clients": check_bus_delivers_across_clients,
}
