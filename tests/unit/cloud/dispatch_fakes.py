"""A cloud around a real :class:`~ems.cloud.dispatch.Dispatcher`, with fake sockets.

The dispatcher runs on the embedded store (fakeredis, reset per :class:`Cloud`)
and a :class:`~ems.clock.VirtualClock`. Edges and the dashboard are fake peers:
every frame the dispatcher sends goes through the wire codec (``encode`` and the
receiving side's strict decoder), so a frame the real socket could not carry
fails the test, and what a fake records is what the other end would read
(timestamps truncated to milliseconds, as on the wire).

Imported by ``test_dispatch.py`` and ``test_dispatch_lifecycle.py`` (the test
directories are not packages; pytest puts this directory on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel

from ems.clock import VirtualClock
from ems.cloud.commands import Dispatcher, Tracked
from ems.cloud.hub import EdgeSession, Hub, UiSession
from ems.cloud.peer import Peer
from ems.cloud.shared import (
    InFlight,
    InFlightEntry,
    Inventories,
    OfflineQueue,
    PushResult,
    QueuedCommand,
    Taken,
    reset_embedded_server,
    shared_redis,
)
from ems.profiles import DeviceProfile, builtin_profiles
from ems.protocol import (
    CLOUD_TO_EDGE,
    CLOUD_TO_UI,
    CloudToEdgeCommand,
    Decoder,
    DeviceRef,
    EdgeAck,
    UiAck,
    UiCommand,
    encode,
)
from ems.ratelimit import CommandGuard, Rate, RedisLimiter

#: 2026-01-01T00:00:00Z, where every virtual clock here starts.
EPOCH_S = 1_767_225_600.0
WORKER = "node-1"
USER = "alice"
EDGES = ("edge-a", "edge-b")
BATTERY = "bat1"  # a battery: set_active_power (dynamic limits) and set_mode
METER = "grid1"  # a grid meter: no actions
ODD = "odd1"  # a device whose profile the cloud does not know
SET_POWER = "set_active_power"
SET_MODE = "set_mode"
#: The battery's dynamic-limit channels, as the hub keys them.
MAX_CHARGE = f"{BATTERY}/MaxChargePower"
MAX_DISCHARGE = f"{BATTERY}/MaxDischargePower"
MAX_AGE_S = 30.0  # the battery profile's max_age_s for those channels
STATIC_LIMIT_W = 1_000_000.0  # the battery profile's static range is ±this

F = TypeVar("F", bound=BaseModel)


@cache
def profiles() -> dict[str, DeviceProfile]:
    """The built-in profiles, loaded once per test session."""
    return builtin_profiles()


def command_id(n: int) -> str:
    """A well-formed, deterministic command id (the wire wants a UUID)."""
    return f"00000000-0000-4000-8000-{n:012x}"


@dataclass(frozen=True)
class Seen(Generic[F]):
    """A frame as the receiving end decoded it, and the virtual time it arrived."""

    frame: F
    at_s: float


class FakePeer(Generic[F]):
    """Stands in for :class:`ems.cloud.peer.Peer`: keeps the frames of type ``kind`` it is sent.

    ``send`` returns False, and keeps nothing, once the peer is closed or when
    it is ``broken`` (a socket that went away right after it was registered).
    """

    def __init__(
        self, decoder: Decoder[Any], kind: type[F], clock: VirtualClock, broken: bool = False
    ) -> None:
        self._decoder = decoder
        self._kind = kind
        self._clock = clock
        self.broken = broken
        self.closed = False
        self.received: list[Seen[F]] = []
        self.on_frame: Callable[[Seen[F]], None] | None = None

    def send(self, frame: BaseModel, droppable: bool = False) -> bool:
        return self.send_text(encode(frame), droppable)

    def send_text(self, text: str, droppable: bool = False) -> bool:
        if self.closed or self.broken:
            return False
        decoded = self._decoder.decode(text)
        assert isinstance(decoded, BaseModel), f"the wire refuses {text!r}: {decoded!r}"
        if isinstance(decoded, self._kind):
            seen = Seen(decoded, self._clock.time())
            self.received.append(seen)
            if self.on_frame is not None:
                self.on_frame(seen)
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = True

    async def stop(self) -> None:
        self.closed = True

    @property
    def as_peer(self) -> Peer:
        """Typed as what the hub's sessions hold."""
        return cast(Peer, self)


def edge_peer(clock: VirtualClock, broken: bool = False) -> FakePeer[CloudToEdgeCommand]:
    return FakePeer(CLOUD_TO_EDGE, CloudToEdgeCommand, clock, broken)


def ui_peer(clock: VirtualClock) -> FakePeer[UiAck]:
    return FakePeer(CLOUD_TO_UI, UiAck, clock)


class Latency:
    """Store calls that take time: turns of the event loop around each call.

    The embedded store answers at once, so concurrent tasks would always
    interleave the same way. With ``rng`` set, each call to the in-flight set
    or the queues lets other tasks run 0 to 8 times before and after it, as a
    real Redis round trip would. ``hook``, when set, is awaited before each
    call with the call's name and its edge id (the worker id for ``recover``,
    else empty), so a test can stop a drain at an exact point; ``done`` lists
    the calls that have returned, in order, and :meth:`returned` waits for one.
    """

    def __init__(self) -> None:
        self.rng: random.Random | None = None
        self.hook: Callable[[str, str], Awaitable[None]] | None = None
        self.done: list[tuple[str, str]] = []
        self._returned: dict[str, asyncio.Event] = {}

    async def returned(self, call: str) -> None:
        """Wait until a call named ``call`` has returned (at once if one has)."""
        await self._returned.setdefault(call, asyncio.Event()).wait()

    async def before(self, call: str, key: str) -> None:
        await self._turns()
        if self.hook is not None:
            await self.hook(call, key)

    async def after(self, call: str, key: str) -> None:
        self.done.append((call, key))
        self._returned.setdefault(call, asyncio.Event()).set()
        await self._turns()

    async def _turns(self) -> None:
        if self.rng is not None:
            for _ in range(self.rng.choice((0, 0, 1, 2, 3, 5, 8))):
                await asyncio.sleep(0)


class SlowInFlight(InFlight):
    """The real in-flight set, with :class:`Latency`."""

    def __init__(self, latency: Latency, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._latency = latency

    async def add(
        self, command_id: str, edge_id: str, deadline_s: float, payload: bytes | str
    ) -> None:
        await self._latency.before("add", edge_id)
        await super().add(command_id, edge_id, deadline_s, payload)
        await self._latency.after("add", edge_id)

    async def add_unless_queued(
        self,
        command_id: str,
        edge_id: str,
        deadline_s: float,
        payload: bytes | str,
        queue_key: str,
    ) -> bool:
        await self._latency.before("add", edge_id)
        added = await super().add_unless_queued(command_id, edge_id, deadline_s, payload, queue_key)
        await self._latency.after("add", edge_id)
        return added

    async def finish(
        self, command_id: str, edge_id: str | None = None, *, payload: bool = True
    ) -> bytes | None:
        # complete() goes through here too.
        await self._latency.before("complete", edge_id or "")
        found = await super().finish(command_id, edge_id, payload=payload)
        await self._latency.after("complete", edge_id or "")
        return found

    async def claim_expired(self, now_s: float, limit: int = 100) -> list[InFlightEntry]:
        await self._latency.before("claim_expired", "")
        claimed = await super().claim_expired(now_s, limit)
        await self._latency.after("claim_expired", "")
        return claimed


class SlowQueue(OfflineQueue):
    """The real offline queues, with :class:`Latency`."""

    def __init__(self, latency: Latency, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._latency = latency

    async def push(
        self, edge_id: str, command_id: str, payload: str, expires_at_s: float
    ) -> PushResult:
        await self._latency.before("push", edge_id)
        pushed = await super().push(edge_id, command_id, payload, expires_at_s)
        await self._latency.after("push", edge_id)
        return pushed

    async def take_for_delivery(
        self, edge_id: str, worker_id: str, *, now_s: float
    ) -> Taken | None:
        await self._latency.before("take_for_delivery", edge_id)
        taken = await super().take_for_delivery(edge_id, worker_id, now_s=now_s)
        await self._latency.after("take_for_delivery", edge_id)
        return taken

    async def delivered(self, edge_id: str, worker_id: str, command_id: str) -> bool:
        await self._latency.before("delivered", edge_id)
        removed = await super().delivered(edge_id, worker_id, command_id)
        await self._latency.after("delivered", edge_id)
        return removed

    async def recover(self, worker_id: str, *args: Any, **kwargs: Any) -> int:
        await self._latency.before("recover", worker_id)
        moved = await super().recover(worker_id, *args, **kwargs)
        await self._latency.after("recover", worker_id)
        return moved

    async def expire(self, now_s: float, *, limit: int = 1000) -> list[QueuedCommand]:
        await self._latency.before("expire", "")
        expired = await super().expire(now_s, limit=limit)
        await self._latency.after("expire", "")
        return expired

    async def depth(self, edge_id: str) -> int:
        await self._latency.before("depth", edge_id)
        depth = await super().depth(edge_id)
        await self._latency.after("depth", edge_id)
        return depth


class Cloud:
    """One cloud process: hub, dispatcher, the user's dashboard; edges attach on demand.

    The dispatcher's in-flight set and queues are the real ones on the
    embedded store, wrapped in :class:`Latency` (none unless set).
    Every edge in :data:`EDGES` has reported its inventory (a battery, a grid
    meter and a device of an unknown profile). Nothing is connected at first.
    Call :meth:`aclose` at the end (it closes the Redis client).
    """

    def __init__(
        self,
        *,
        queue_limit: int = 10_000,
        queue_offline: bool = True,
        watchdog_s: float = 5.0,
        command_rate: Rate | None = None,
        ack_allowance_s: float = 0.0,
    ) -> None:
        """``command_rate``: guard commands (rate limit, replay, freshness) as the app does."""
        reset_embedded_server()
        self.clock = VirtualClock(EPOCH_S)
        self.redis = shared_redis(None)
        self.hub = Hub()
        #: Set ``latency.rng`` to vary how concurrent tasks interleave.
        self.latency = Latency()
        self.inflight = SlowInFlight(self.latency, self.redis)
        self.queue = SlowQueue(self.latency, self.redis, limit=queue_limit)
        self.dispatcher = Dispatcher(
            self.hub,
            profiles(),
            inflight=self.inflight,
            queue=self.queue,
            inventories=Inventories(self.redis),
            worker_id=WORKER,
            watchdog_s=watchdog_s,
            ack_allowance_s=ack_allowance_s,
            queue_offline=queue_offline,
            clock=self.clock,
            guard=None
            if command_rate is None
            else CommandGuard(RedisLimiter(self.redis), command_rate),
        )
        #: Every status change, as the dispatcher's listeners see it.
        self.heard: list[tuple[Tracked, UiAck]] = []
        self.dispatcher.listeners.append(lambda tracked, ack: self.heard.append((tracked, ack)))
        self.ui = ui_peer(self.clock)
        self.hub.attach_ui(UiSession(USER, "operator", self.ui.as_peer, EPOCH_S + 86_400.0))
        for edge_id in EDGES:
            self.hub.inventory[edge_id] = [
                DeviceRef(id=BATTERY, profile="battery"),
                DeviceRef(id=METER, profile="grid_meter"),
                DeviceRef(id=ODD, profile="no_such_profile"),
            ]
        self.peers: dict[str, FakePeer[CloudToEdgeCommand]] = {}

    async def aclose(self) -> None:
        await self.dispatcher.stop()
        await self.redis.aclose()
        reset_embedded_server()

    # -- edges -------------------------------------------------------------
    def attach(self, edge_id: str, broken: bool = False) -> FakePeer[CloudToEdgeCommand]:
        """The edge connects (a newer connection replaces and closes the older one).

        Does not drain its queue: call ``dispatcher.drain(edge_id)`` (or :meth:`connect`).
        """
        peer = edge_peer(self.clock, broken)
        old = self.hub.attach_edge(EdgeSession(edge_id, peer.as_peer, self.clock.time()))
        if old is not None:
            cast(FakePeer[CloudToEdgeCommand], old.peer).closed = True
        self.peers[edge_id] = peer
        return peer

    async def connect(self, edge_id: str, broken: bool = False) -> FakePeer[CloudToEdgeCommand]:
        """Attach the edge, drain its queue as the edge endpoint does, and wait for it."""
        peer = self.attach(edge_id, broken)
        self.dispatcher.drain(edge_id)
        await self.settle()
        return peer

    def detach(self, edge_id: str) -> None:
        """The edge's socket closed."""
        session = self.hub.edges.get(edge_id)
        if session is not None:
            self.hub.detach_edge(session)
            cast(FakePeer[CloudToEdgeCommand], session.peer).closed = True

    def telemetry(
        self,
        edge_id: str,
        max_charge_w: object = 5000.0,
        max_discharge_w: object = 5000.0,
        at_s: float | None = None,
    ) -> None:
        """The edge reported its battery limits at ``at_s`` (default: now)."""
        t = self.clock.time() if at_s is None else at_s
        latest = self.hub.latest.setdefault(edge_id, {})
        latest[MAX_CHARGE] = (max_charge_w, t)
        latest[MAX_DISCHARGE] = (max_discharge_w, t)

    async def ack(self, edge_id: str, cid: str, status: str, reason: str | None = None) -> None:
        """The edge sends an ack frame for ``cid`` (through the wire codec)."""
        frame = EdgeAck(
            type="ack",
            command_id=cid,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            at=datetime.fromtimestamp(self.clock.time(), UTC),
        )
        await self.dispatcher.on_edge_ack(edge_id, EdgeAck.model_validate_json(encode(frame)))

    # -- the dashboard -----------------------------------------------------
    def command(
        self,
        cid: str,
        edge_id: str = EDGES[0],
        value: object = 1000.0,
        *,
        device: str = BATTERY,
        action: str = SET_POWER,
        ttl_s: int = 60,
    ) -> UiCommand:
        return UiCommand(
            type="command",
            command_id=cid,
            edge_id=edge_id,
            device=device,
            action=action,
            value=value,  # type: ignore[arg-type]
            issued_at=datetime.fromtimestamp(self.clock.time(), UTC),
            ttl_s=ttl_s,
        )

    async def submit(
        self, cmd: UiCommand, role: str = "operator", edges: frozenset[str] | None = None
    ) -> UiAck:
        ack = await self.dispatcher.submit(USER, role, cmd, edges=edges)
        await self.settle()
        return ack

    def acks(self, cid: str | None = None) -> list[UiAck]:
        """What the dashboard received (for ``cid`` only, when given), in order."""
        return [s.frame for s in self.ui.received if cid is None or s.frame.command_id == cid]

    def statuses(self, cid: str) -> list[tuple[str, str | None]]:
        return [(a.status, a.reason) for a in self.acks(cid)]

    # -- time and tasks ----------------------------------------------------
    async def advance(self, seconds: float) -> None:
        await self.clock.advance_async(seconds)

    async def settle(self) -> None:
        """Run the loop until every other task (the drains) has finished."""
        me = asyncio.current_task()
        for _ in range(100):
            pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
            if not pending:
                return
            await asyncio.wait(pending, timeout=0.5)
        raise AssertionError(f"tasks still running: {pending}")
