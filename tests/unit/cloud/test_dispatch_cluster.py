"""Two dispatchers (two cloud processes) on one embedded store: commands cross over.

A holds the user's dashboard, B holds the edge. Real dispatchers, clusters,
in-flight set and queues; fake sockets that read every frame through the wire
codec; one virtual clock for both processes' deadlines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from dispatch_fakes import (
    BATTERY,
    EPOCH_S,
    MAX_CHARGE,
    MAX_DISCHARGE,
    SET_POWER,
    USER,
    FakePeer,
    Seen,
    command_id,
    edge_peer,
    profiles,
    ui_peer,
)

from ems.clock import VirtualClock
from ems.cloud.cluster import Cluster, ClusterLink
from ems.cloud.commands import Dispatcher
from ems.cloud.hub import EdgeSession, Hub, UiSession
from ems.cloud.shared import (
    InFlight,
    Inventories,
    OfflineQueue,
    reset_embedded_server,
    shared_redis,
)
from ems.protocol import CloudToEdgeCommand, DeviceRef, EdgeAck, UiAck, UiCommand

EDGE = "edge-a"
WAIT_S = 5.0


@dataclass
class Process:
    hub: Hub
    cluster: Cluster
    dispatcher: Dispatcher


@dataclass
class Pair:
    clock: VirtualClock
    a: Process
    b: Process
    ui: FakePeer[UiAck]
    latest: dict[str, tuple[object, float]]

    async def connect_edge(self) -> FakePeer[CloudToEdgeCommand]:
        """The edge connects to B (as the edge endpoint does: claim, then drain)."""
        peer = edge_peer(self.clock)
        session = EdgeSession(EDGE, peer.as_peer, self.clock.time())
        self.b.hub.attach_edge(session)
        await self.b.cluster.edge_attached(session)
        self.b.dispatcher.drain(EDGE)
        return peer

    def command(self, n: int, watts: float = -1000.0) -> UiCommand:
        return UiCommand(
            type="command",
            command_id=command_id(n),
            edge_id=EDGE,
            device=BATTERY,
            action=SET_POWER,
            value=watts,
            issued_at=datetime.fromtimestamp(self.clock.time(), UTC),
            ttl_s=60,
        )

    async def edge_says(self, n: int, status: str) -> None:
        """The edge's ack for command ``n``, on B."""
        ack = EdgeAck(
            type="ack",
            command_id=command_id(n),
            status=status,  # type: ignore[arg-type]
            at=datetime.fromtimestamp(self.clock.time(), UTC),
        )
        await self.b.dispatcher.on_edge_ack(EDGE, ack)


def _process(name: str, clock: VirtualClock, latest: Mapping[str, tuple[object, float]]) -> Process:
    redis = shared_redis(None)
    hub = Hub()
    link = ClusterLink(redis, name)

    async def stored_latest(
        edge_id: str, addresses: Sequence[str]
    ) -> dict[str, tuple[object, float]]:
        return {a: latest[a] for a in addresses if a in latest}

    dispatcher = Dispatcher(
        hub,
        profiles(),
        InFlight(redis),
        OfflineQueue(redis),
        Inventories(redis),
        worker_id=name,
        clock=clock,
        peers=link,
        remote_latest=stored_latest,
    )
    return Process(hub, Cluster(link, hub, inbox=dispatcher), dispatcher)


@pytest_asyncio.fixture
async def pair() -> AsyncIterator[Pair]:
    reset_embedded_server()
    clock = VirtualClock(EPOCH_S)
    latest: dict[str, tuple[object, float]] = {}
    a, b = _process("cloud-a", clock, latest), _process("cloud-b", clock, latest)
    for p in (a, b):
        await p.cluster.start()
    devices = [DeviceRef(id=BATTERY, profile="battery")]
    await b.dispatcher.record_inventory(EDGE, devices)  # reported to B once
    ui = ui_peer(clock)
    a.hub.attach_ui(UiSession(USER, "operator", ui.as_peer, EPOCH_S + 86_400.0))
    await a.cluster.watch_user(USER)
    yield Pair(clock, a, b, ui, latest)
    for p in (a, b):
        await p.dispatcher.stop()
        await p.cluster.stop()
    reset_embedded_server()


async def arrival(peer: FakePeer[CloudToEdgeCommand] | FakePeer[UiAck], count: int) -> None:
    """Wait until ``peer`` has received ``count`` frames (through Redis, so not at once)."""
    arrived = asyncio.Event()

    def check(_: Seen[object]) -> None:
        if len(peer.received) >= count:
            arrived.set()

    peer.on_frame = check  # type: ignore[assignment]
    if len(peer.received) < count:
        await asyncio.wait_for(arrived.wait(), WAIT_S)


def statuses(pair: Pair, n: int) -> list[tuple[str, str | None]]:
    return [
        (s.frame.status, s.frame.reason)
        for s in pair.ui.received
        if s.frame.command_id == command_id(n)
    ]


@pytest.mark.asyncio
async def test_accepted_on_one_process_run_on_the_edge_of_the_other(pair: Pair) -> None:
    edge = await pair.connect_edge()
    pair.latest[MAX_CHARGE] = (5000.0, pair.clock.time())
    pair.latest[MAX_DISCHARGE] = (5000.0, pair.clock.time())

    ack = await pair.a.dispatcher.submit(USER, "operator", pair.command(1))
    assert (ack.status, ack.detail) == ("received", f"sent to {EDGE}")
    await arrival(edge, 1)
    sent = edge.received[0].frame
    assert (sent.command_id, sent.value, sent.user) == (command_id(1), -1000.0, USER)
    assert sent.deadline.timestamp() == pytest.approx(EPOCH_S + 5.0)

    await pair.edge_says(1, "delivered")
    await pair.edge_says(1, "executed")
    await arrival(pair.ui, 3)  # the statuses B set reach A's dashboard through Redis
    assert statuses(pair, 1) == [("received", None), ("delivered", None), ("executed", None)]


@pytest.mark.asyncio
async def test_a_remote_edge_is_judged_by_the_stored_latest_values(pair: Pair) -> None:
    await pair.connect_edge()
    ack = await pair.a.dispatcher.submit(USER, "operator", pair.command(1))
    assert (ack.status, ack.reason) == ("rejected", "no_telemetry")
    pair.latest[MAX_CHARGE] = (800.0, pair.clock.time() - 31.0)
    pair.latest[MAX_DISCHARGE] = (800.0, pair.clock.time() - 31.0)
    ack = await pair.a.dispatcher.submit(USER, "operator", pair.command(2))
    assert (ack.status, ack.reason) == ("rejected", "stale_telemetry")
    pair.latest[MAX_CHARGE] = (800.0, pair.clock.time())
    pair.latest[MAX_DISCHARGE] = (800.0, pair.clock.time())
    ack = await pair.a.dispatcher.submit(USER, "operator", pair.command(3))
    assert (ack.status, ack.reason) == ("rejected", "exceeds_dynamic_limit")
    assert ack.detail is not None and "[-800, 800] W" in ack.detail


@pytest.mark.asyncio
async def test_no_answer_from_the_remote_edge_fails_once_and_a_late_ack_is_only_audited(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ems.audit")
    edge = await pair.connect_edge()
    pair.latest[MAX_CHARGE] = (5000.0, pair.clock.time())
    pair.latest[MAX_DISCHARGE] = (5000.0, pair.clock.time())
    await pair.a.dispatcher.submit(USER, "operator", pair.command(1))
    await arrival(edge, 1)

    await pair.clock.advance_async(5.0)
    # Either process's watchdog may take it; here B's, which only knows it was routed.
    assert await pair.b.dispatcher.watchdog_pass() == 1
    assert await pair.a.dispatcher.watchdog_pass() == 0
    await arrival(pair.ui, 2)
    assert statuses(pair, 1) == [("received", None), ("failed", "edge_timeout")]

    await pair.edge_says(1, "delivered")  # the edge woke up: too late for anything
    await pair.edge_says(1, "executed")
    late = [r.command_id for r in caplog.records if getattr(r, "event", "") == "cloud.late_ack"]
    assert late == [command_id(1)]  # the final one; progress after the end is ignored
    # A marker command proves nothing else about command 1 is on its way.
    await pair.a.dispatcher.submit(USER, "operator", pair.command(2))
    await arrival(edge, 2)
    await pair.edge_says(2, "executed")
    await arrival(pair.ui, 4)
    assert statuses(pair, 1) == [("received", None), ("failed", "edge_timeout")]


@pytest.mark.asyncio
async def test_queued_on_one_process_drained_in_order_by_the_other(pair: Pair) -> None:
    for n in (1, 2, 3):  # the edge is offline everywhere
        ack = await pair.a.dispatcher.submit(USER, "operator", pair.command(n, -100.0 * n))
        assert ack.status == "queued"
    edge = await pair.connect_edge()
    await arrival(edge, 3)
    assert [s.frame.command_id for s in edge.received] == [command_id(n) for n in (1, 2, 3)]

    # Once online on B, commands from A go straight there (or behind what still waits).
    pair.latest[MAX_CHARGE] = (5000.0, pair.clock.time())
    pair.latest[MAX_DISCHARGE] = (5000.0, pair.clock.time())
    ack = await pair.a.dispatcher.submit(USER, "operator", pair.command(4))
    assert ack.status in ("queued", "received")
    await arrival(edge, 4)
    assert edge.received[3].frame.command_id == command_id(4)
