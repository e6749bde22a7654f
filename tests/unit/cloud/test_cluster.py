"""Two cloud processes' :class:`Cluster` parts on one embedded store: what crosses over."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import pytest_asyncio

from ems.cloud.cluster import CLOSE_REPLACED, Cluster, ClusterLink, NodeIdInUse
from ems.cloud.hub import EdgeSession, Hub, UiSession
from ems.cloud.peer import Peer
from ems.cloud.shared import reset_embedded_server, shared_redis
from ems.protocol import ChannelSample, UiAck, UiTelemetry, encode

WAIT_S = 5.0


@dataclass(eq=False)
class FakePeer:
    """Keeps what it is sent; ``got`` wakes a waiting test."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    closed_with: int | None = None
    got: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, frame: Any, droppable: bool = False) -> bool:
        return self.send_text(encode(frame), droppable)

    def send_text(self, text: str, droppable: bool = False) -> bool:
        self.frames.append(json.loads(text))
        self.got.set()
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = code
        self.got.set()

    async def next(self, kind: str) -> dict[str, Any]:
        while True:
            for frame in self.frames:
                if frame["type"] == kind:
                    self.frames.remove(frame)
                    return frame
            self.got.clear()
            await asyncio.wait_for(self.got.wait(), WAIT_S)

    @property
    def as_peer(self) -> Peer:
        return cast(Peer, self)


@dataclass
class Node:
    hub: Hub
    cluster: Cluster
    inbox: Inbox


class Inbox:
    """What a process's command path hears from the others."""

    def __init__(self) -> None:
        self.routed: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        self.drains: asyncio.Queue[str] = asyncio.Queue()

    def on_routed(self, message: Mapping[str, Any]) -> None:
        self.routed.put_nowait(message)

    def drain(self, edge_id: str) -> None:
        self.drains.put_nowait(edge_id)


@pytest_asyncio.fixture
async def nodes() -> AsyncIterator[tuple[Node, Node]]:
    reset_embedded_server()
    made = []
    for name in ("cloud-a", "cloud-b"):
        hub = Hub()
        inbox = Inbox()
        cluster = Cluster(ClusterLink(shared_redis(None), name), hub, inbox=inbox)
        await cluster.start()
        made.append(Node(hub, cluster, inbox))
    yield made[0], made[1]
    for node in made:
        await node.cluster.stop()
    reset_embedded_server()


def ack(status: str = "executed") -> UiAck:
    return UiAck(
        command_id="00000000-0000-4000-8000-000000000001",
        edge_id="site-1",
        status=status,  # type: ignore[arg-type]
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )


async def dashboard(node: Node, username: str = "olga") -> FakePeer:
    peer = FakePeer()
    node.hub.attach_ui(UiSession(username, "operator", peer.as_peer, token_exp_s=1e12))
    await node.cluster.watch_user(username)
    return peer


async def edge(node: Node, edge_id: str = "site-1", connected_at: float = 1.0) -> FakePeer:
    peer = FakePeer()
    session = EdgeSession(edge_id, peer.as_peer, connected_at)
    node.hub.attach_edge(session)
    await node.cluster.edge_attached(session)
    return peer


@pytest.mark.asyncio
async def test_a_users_acks_reach_their_dashboards_on_the_other_process(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    on_a, other_user = await dashboard(a), await dashboard(a, "oscar")
    b.cluster.user_ack("olga", encode(ack()))
    assert (await on_a.next("ack"))["status"] == "executed"
    a.cluster.user_ack("olga", encode(ack("delivered")))  # published by A itself
    b.cluster.user_ack("olga", encode(ack("failed")))
    # A's own publication is not relayed back to A's sockets (they had it directly).
    assert (await on_a.next("ack"))["status"] == "failed"
    assert on_a.frames == []
    assert other_user.frames == []


@pytest.mark.asyncio
async def test_the_holder_is_known_everywhere_and_status_reaches_subscribers(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    viewer = FakePeer()
    session = UiSession("vic", "viewer", viewer.as_peer, token_exp_s=1e12)
    a.hub.attach_ui(session)
    a.hub.subscribe(session, "site-1")
    await a.cluster.watch_edge("site-1")

    await edge(b)
    status = await viewer.next("edge_status")
    assert (status["edge_id"], status["online"]) == ("site-1", True)
    assert await a.cluster.remote_owner("site-1") == "cloud-b"
    assert await b.cluster.remote_owner("site-1") is None  # its own
    assert (await a.cluster.status("site-1")).online is True

    # A asked for site-1's live telemetry: after B's next upkeep, B publishes it.
    await a.cluster.tick()
    await b.cluster.tick()
    assert b.cluster.wants_live("site-1")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    b.cluster.telemetry(
        UiTelemetry(
            edge_id="site-1", ts=now, channels={"grid/ActivePower": ChannelSample(v=5.0, t=now)}
        )
    )
    live = await viewer.next("telemetry")
    assert live["channels"]["grid/ActivePower"]["v"] == 5.0

    assert b.hub.detach_edge(b.hub.edges["site-1"])
    await b.cluster.edge_detached("site-1")
    assert (await viewer.next("edge_status"))["online"] is False
    assert await a.cluster.remote_owner("site-1") is None


@pytest.mark.asyncio
async def test_an_edge_that_connects_elsewhere_closes_its_old_socket(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    old = await edge(a, connected_at=1.0)
    await edge(b, connected_at=2.0)  # the edge reconnected, to B
    while old.closed_with is None:
        old.got.clear()
        await asyncio.wait_for(old.got.wait(), WAIT_S)
    assert old.closed_with == CLOSE_REPLACED
    # A's late release leaves B's claim alone.
    a.hub.detach_edge(a.hub.edges["site-1"])
    await a.cluster.edge_detached("site-1")
    assert await a.cluster.remote_owner("site-1") == "cloud-b"


@pytest.mark.asyncio
async def test_commands_and_drain_requests_reach_the_named_process(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    a.cluster.route_command("cloud-b", '{"command_id": "x"}', 1234.5)
    a.cluster.request_drain("cloud-b", "site-1")
    message = await asyncio.wait_for(b.inbox.routed.get(), WAIT_S)
    assert (message["envelope"], message["deadline"]) == ('{"command_id": "x"}', 1234.5)
    assert await asyncio.wait_for(b.inbox.drains.get(), WAIT_S) == "site-1"


@pytest.mark.asyncio
async def test_a_second_process_with_the_same_node_id_refuses_to_start(
    nodes: tuple[Node, Node],
) -> None:
    a, _ = nodes
    # A short TTL, so the refusal comes quickly: the first one keeps its lease meanwhile.
    twin = Cluster(ClusterLink(shared_redis(None), a.cluster.node_id, registry_ttl_s=0.3), Hub())
    with pytest.raises(NodeIdInUse, match="EMS_NODE_ID"):
        await twin.start()
    # Once the first stops cleanly, the name is free at once.
    await a.cluster.stop()
    await twin.start()
    await twin.stop()


@pytest.mark.asyncio
async def test_a_silent_edge_is_stale_on_every_process_until_it_speaks(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    clock = [1_767_225_600.0]
    b.hub._now = lambda: clock[0]  # B's wall clock, driven by the test
    viewer = FakePeer()
    session = UiSession("vic", "viewer", viewer.as_peer, token_exp_s=1e12)
    a.hub.attach_ui(session)
    a.hub.subscribe(session, "site-1")
    await a.cluster.watch_edge("site-1")
    await edge(b)
    assert (await viewer.next("edge_status"))["stale"] is False

    clock[0] += b.hub.stale_after_s + 1.0
    await b.cluster.tick()
    status = await viewer.next("edge_status")
    assert (status["online"], status["stale"]) == (True, True)
    # A process that does not hold the edge answers the same (subscribe, /api/edges).
    # Published after the flag reached Redis: the other process agrees.
    assert (await a.cluster.status("site-1")).stale is True

    b.hub.seen("site-1")
    status = await viewer.next("edge_status")
    assert (status["online"], status["stale"]) == (True, False)
    assert (await a.cluster.status("site-1")).stale is False


@pytest.mark.asyncio
async def test_only_the_holder_flags_an_edge_stale(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    await edge(b)
    assert await a.cluster.registry.mark_stale("site-1", True) is False
    assert await b.cluster.registry.mark_stale("site-1", True) is True
    assert (await a.cluster.status("site-1")).stale is True
    await edge(a, connected_at=2.0)  # it reconnected to A: a new claim is fresh
    assert (await b.cluster.status("site-1")).stale is False


@pytest.mark.asyncio
async def test_hundreds_of_edges_going_silent_at_once_take_one_round_trip(
    nodes: tuple[Node, Node],
) -> None:
    """An overloaded process may find every edge silent at the same tick."""
    a, b = nodes
    clock = [1_767_225_600.0]
    b.hub._now = lambda: clock[0]
    edge_ids = [f"site-{i}" for i in range(300)]
    for edge_id in edge_ids:
        await edge(b, edge_id)
    clock[0] += b.hub.stale_after_s + 1.0
    await b.cluster.tick()
    statuses = await a.cluster.statuses(edge_ids)
    assert all(s.online and s.stale for s in statuses.values())
