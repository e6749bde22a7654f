"""Command dispatch: validate an operator's command, route it, track it to one final status.

The checks run in the order of DESIGN section 4 and the first failure is the
``rejected`` reason. A command for an online edge is sent with a ``deadline``
and enters the in-flight set; if no final status arrives by then the watchdog
fails it with ``edge_timeout``, and the edge itself refuses to apply it after
that moment, so what the operator saw fail is never carried out later. A
command for an offline edge waits in that edge's FIFO queue (``queued``) until
the edge reconnects or its ``ttl_s`` passes (``timeout_in_queue``). Whoever
removes a command from the in-flight set or a queue (one atomic Redis step)
owns its final status, so the watchdog, the expiry worker and a final ack
never report the same command twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ems.audit import AuditTrail
from ems.clock import Clock, RealClock
from ems.cloud.cluster import Cluster
from ems.cloud.controller_commands import check_settings
from ems.cloud.hub import EdgeSession, Hub
from ems.cloud.shared import ExpiredInQueue, InFlight, Inventories, OfflineQueue, ToDeliver
from ems.profiles import (
    ActionSpec,
    DeviceProfile,
    Problem,
    check_static,
    dynamic_limits,
    within,
)
from ems.protocol import (
    SET_CONTROLLER,
    CloudToEdgeCommand,
    ControllerRef,
    DeviceRef,
    EdgeAck,
    UiAck,
    UiCommand,
    encode,
)
from ems.ratelimit import CommandGuard

__all__ = ["Dispatcher", "LatestSource", "Tracked"]

#: ``(edge_id, addresses) -> {address: (value, time [s, Unix epoch])}``: the newest
#: stored values of an edge held by another cloud process (the latest-value table).
LatestSource = Callable[[str, Sequence[str]], Awaitable[Mapping[str, tuple[object, float]]]]
Latest = Mapping[str, tuple[object, float]]

log = logging.getLogger(__name__)

TERMINAL = frozenset({"rejected", "executed", "failed"})
COMMAND_ROLES = frozenset({"operator", "admin"})
_REMEMBER = 100_000  # finished commands kept for replay checks and late acks
_WORKER_PERIOD_S = 0.2  # how often the watchdog and the expiry worker look


@dataclass(eq=False)
class Tracked:
    command_id: str
    username: str
    edge_id: str
    device: str
    action: str
    value: object
    issued_at: str
    ttl_s: int
    status: str
    created_at: float = 0.0
    """When the cloud took the command [s, Unix epoch] (on whichever process)."""
    routed: bool = False
    """Sent here by another cloud process, which holds the command's first statuses."""
    answered: bool = True
    """False while :meth:`Dispatcher.submit` has not given its immediate ack yet."""
    deferred: list[UiAck] = field(default_factory=list)
    """Later statuses that came before the immediate ack (sent right after it)."""
    history: list[tuple[str, str | None, float]] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def envelope(self) -> str:
        """What Redis keeps about the command (enough to finish it after a restart)."""
        return json.dumps(
            {
                "command_id": self.command_id,
                "user": self.username,
                "edge_id": self.edge_id,
                "device": self.device,
                "action": self.action,
                "value": self.value,
                "issued_at": self.issued_at,
                "ttl_s": self.ttl_s,
                "created_at": self.created_at,
            }
        )

    @classmethod
    def from_envelope(cls, text: str, status: str) -> Tracked:
        e: dict[str, Any] = json.loads(text)
        return cls(
            e["command_id"],
            e["user"],
            e["edge_id"],
            e["device"],
            e["action"],
            e["value"],
            e["issued_at"],
            e["ttl_s"],
            status,
            created_at=e.get("created_at", 0.0),
        )


class Dispatcher:
    def __init__(
        self,
        hub: Hub,
        profiles: Mapping[str, DeviceProfile],
        inflight: InFlight,
        queue: OfflineQueue,
        inventories: Inventories,
        worker_id: str,
        watchdog_s: float = 5.0,
        queue_offline: bool = True,
        ack_allowance_s: float = 0.0,
        clock: Clock | None = None,
        cluster: Cluster | None = None,
        remote_latest: LatestSource | None = None,
        audit: AuditTrail | None = None,
        guard: CommandGuard | None = None,
    ) -> None:
        self._hub = hub
        self._profiles = profiles
        self._inflight = inflight
        self._queue = queue
        self._inventories = inventories
        self._worker_id = worker_id
        self._watchdog_s = watchdog_s
        if not 0 <= ack_allowance_s < watchdog_s:
            raise ValueError("ack_allowance_s must be at least 0 and less than watchdog_s")
        # The edge is told a deadline this much before the watchdog fires, so an
        # "executed" ack sent just before that deadline still reaches the cloud
        # (and this process handles it) before the watchdog reports edge_timeout;
        # otherwise the operator would see a failure for a command the edge ran.
        self._ack_allowance_s = ack_allowance_s
        self._queue_offline = queue_offline
        self._clock: Clock = clock or RealClock()
        self._cluster = cluster
        self._remote_latest = remote_latest
        #: Where this process's waypoints go (the command records listen to it).
        self.audit = audit or AuditTrail("cloud")
        self._guard = guard  # rate limit, replay and freshness (None: replay checked here only)
        if cluster is not None:
            cluster.on_routed = self.on_routed
            cluster.on_drain = self.drain
        #: Called with every status change (the command records subscribe here).
        self.listeners: list[Callable[[Tracked, UiAck], None]] = []
        #: Called with refusals of frames that never became tracked commands (a replay).
        self.refusal_listeners: list[Callable[[UiAck], None]] = []
        self.commands: OrderedDict[str, Tracked] = OrderedDict()
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._routed: dict[str, asyncio.Task[None]] = {}  # per edge: the last routed send
        self._drain_again: set[str] = set()
        self._workers: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Put back what a crash of this worker left half-delivered; start the workers."""
        for edge_id, devices in (await self._inventories.all()).items():
            self._hub.inventory.setdefault(edge_id, [DeviceRef(**d) for d in devices])
        for edge_id, controllers in (await self._inventories.all_controllers()).items():
            self._hub.controllers.setdefault(
                edge_id, [ControllerRef.model_validate(c) for c in controllers]
            )
        # One delivery list per edge (worker "<node>.<edge>"), so putting back
        # one edge's half-delivered command never touches another edge's.
        edges = set(self._hub.inventory) | set(await self._queue.edges_with_queues())
        recovered = 0
        for edge_id in sorted(edges):
            recovered += await self._queue.recover(self._delivery_worker(edge_id))
        if recovered:
            log.warning("put %d half-delivered command(s) back in their queues", recovered)
        self._workers = [
            asyncio.create_task(self._watchdog(), name="watchdog"),
            asyncio.create_task(self._expiry(), name="queue-expiry"),
        ]

    async def take_over(self, edge_id: str, previous_node: str) -> None:
        """``edge_id`` moved here from ``previous_node``: put back what that process had
        taken off the edge's queue and not delivered (it may have died meanwhile).

        If it is alive and still sending, the edge gets that command twice and
        answers the second from its record of the first (at most once at the edge).
        """
        back = await self._queue.recover(f"{previous_node}.{edge_id}")
        if back:
            log.warning(
                "%s: put back %d command(s) %s was delivering", edge_id, back, previous_node
            )

    async def stop(self) -> None:
        tasks = [*self._workers, *self._draining.values(), *self._routed.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- from a dashboard --------------------------------------------------
    async def submit(
        self, username: str, role: str, cmd: UiCommand, *, edges: Container[str] | None = None
    ) -> UiAck:
        """Validate and route. The immediate ack (``received``, ``queued`` or ``rejected``)
        goes to every socket of the user, like every later ack; it is also returned.
        ``edges``: the edges the user's token grants (``None``: every edge)."""
        now = self._clock.time()
        self._audit("cloud.received", cmd.command_id, username, cmd.edge_id, "received", None)
        # DESIGN section 4: (schema: the frame decoder) -> role and grant -> rate
        # limit -> replay/freshness -> static limits -> dynamic limits.
        known = cmd.command_id in self.commands
        refusal: Problem | None = None
        if role not in COMMAND_ROLES:
            refusal = Problem("forbidden", f"role {role!r} may not send commands")
        elif edges is not None and cmd.edge_id not in edges:
            # Before any lookup of the edge: the same answer whether it exists or not.
            refusal = Problem("forbidden", f"no access to edge {cmd.edge_id}")
        elif self._guard is not None:
            guarded = await self._guard.check(
                username, cmd.command_id, cmd.issued_at.timestamp(), now
            )
            if guarded is not None and (not guarded.burns_id or known):
                # rate_limited (the id stays free: the client may send it again)
                # or replay: not tracked, the original keeps its own status.
                return self._ack(username, cmd, "rejected", guarded.reason, guarded.detail, now)
            if guarded is not None:
                refusal = Problem(guarded.reason, guarded.detail)
        if known:
            # Also past the shared replay window (this process remembers longer).
            reason, detail = (
                (refusal.reason, refusal.detail)
                if refusal is not None
                else ("replay", "command_id was already used")
            )
            return self._ack(username, cmd, "rejected", reason, detail, now)
        tracked = Tracked(
            cmd.command_id,
            username,
            cmd.edge_id,
            cmd.device,
            cmd.action,
            cmd.value,
            _rfc3339(cmd.issued_at),
            cmd.ttl_s,
            "new",
            created_at=now,
            answered=False,
        )
        self._remember(tracked)
        if refusal is not None:
            return self._answer(tracked, "rejected", refusal.reason, refusal.detail, now)
        if cmd.edge_id not in self._hub.inventory:
            # Reported to another cloud process, or before this one restarted.
            stored = await self._inventories.get(cmd.edge_id)
            if stored is not None:
                self._hub.inventory[cmd.edge_id] = [DeviceRef(**d) for d in stored]
                self._hub.controllers[cmd.edge_id] = [
                    ControllerRef.model_validate(c)
                    for c in await self._inventories.get_controllers(cmd.edge_id)
                ]
        checked = self._validate_static(role, cmd)
        if isinstance(checked, Problem):
            return self._answer(tracked, "rejected", checked.reason, checked.detail, now)
        self._audit("cloud.validated", cmd.command_id, username, cmd.edge_id, "validated", None)
        session = self._hub.edges.get(cmd.edge_id)
        owner = None  # the other cloud process holding the edge
        if session is None and self._cluster is not None:
            owner = await self._cluster.remote_owner(cmd.edge_id)
        # While an edge's queue drains, newer commands line up behind it (FIFO).
        # (The holder of a remote edge waits for its own drain before sending.)
        if (session is not None and not self._is_draining(cmd.edge_id)) or owner is not None:
            # It goes out now and runs within a cycle: judge it by what the edge
            # reports now. A queued command is revalidated by the edge when it runs.
            latest = await self._latest(cmd, checked, local=session is not None)
            problem = self._validate_dynamic(cmd, checked, latest, now)
            if problem is None:
                envelope = tracked.envelope()
                deadline_s = await self._watch_unless_queued(tracked, now, envelope)
                if deadline_s is not None:
                    if session is not None:
                        self._emit(tracked, session, deadline_s)
                    else:
                        assert owner is not None
                        self._hand_over(tracked, owner, envelope, deadline_s)
                    return self._answer(tracked, "received", None, f"sent to {cmd.edge_id}", now)
            elif await self._queue.depth(cmd.edge_id) == 0:
                return self._answer(tracked, "rejected", problem.reason, problem.detail, now)
            # Else commands wait in the edge's queue: this one lines up behind them.
        online = session is not None or owner is not None
        if not online and not self._queue_offline:
            return self._answer(
                tracked, "rejected", "edge_offline", f"{cmd.edge_id} is not connected", now
            )
        pushed = await self._queue.push(
            cmd.edge_id, cmd.command_id, tracked.envelope(), now + cmd.ttl_s
        )
        if not pushed.queued:
            return self._answer(
                tracked,
                "rejected",
                "queue_full",
                f"{cmd.edge_id} already has {self._queue.limit} commands waiting",
                now,
            )
        self._audit("cloud.queued", cmd.command_id, username, cmd.edge_id, "queued", None)
        where = (
            f"{cmd.edge_id} is offline"
            if not online
            else f"{cmd.edge_id} is still receiving earlier commands"
        )
        ack = self._answer(
            tracked,
            "queued",
            None,
            f"{where}; position {pushed.position}, expires in {cmd.ttl_s} s",
            now,
        )
        # Looked at after the push: the edge may have connected (and found its
        # queue empty) while this command was on its way into the queue.
        if cmd.edge_id in self._hub.edges:
            self.drain(cmd.edge_id)
        elif self._cluster is not None:
            owner = await self._cluster.remote_owner(cmd.edge_id)
            if owner is not None:
                self._cluster.request_drain(owner, cmd.edge_id)
        return ack

    def _validate_static(self, role: str, cmd: UiCommand) -> ActionSpec | Problem | None:
        """Role, edge, device, action and the profile's fixed range, in that order.

        ``None``: a ``set_controller`` that passed (it has no dynamic limits)."""
        if role not in COMMAND_ROLES:
            return Problem("forbidden", f"role {role!r} may not send commands")
        devices = self._hub.inventory.get(cmd.edge_id)
        if devices is None:
            return Problem("unknown_edge", f"no edge {cmd.edge_id!r} has reported its devices")
        if cmd.action == SET_CONTROLLER:
            controllers = self._hub.controllers.get(cmd.edge_id, [])
            return check_settings(cmd.edge_id, controllers, cmd.device, cmd.value)
        ref = next((d for d in devices if d.id == cmd.device), None)
        if ref is None:
            return Problem("unknown_device", f"{cmd.edge_id} has no device {cmd.device!r}")
        profile = self._profiles.get(ref.profile)
        if profile is None:
            return Problem("unknown_device", f"{cmd.device} has an unknown profile {ref.profile!r}")
        action = profile.actions.get(cmd.action)
        if action is None:
            known = ", ".join(profile.actions) or "none"
            return Problem(
                "unknown_action", f"{profile.type} has no action {cmd.action!r} ({known})"
            )
        problem = check_static(action, cmd.value)
        return action if problem is None else problem

    async def _latest(self, cmd: UiCommand, action: ActionSpec | None, *, local: bool) -> Latest:
        """The edge's newest values of the channels bounding ``action`` on ``cmd.device``.

        An edge held here: every frame passed through this process, so its own
        cache is as fresh as the latest-value table. An edge held by another
        process: that table (shared by every process), read once per command.
        """
        if local:
            return self._hub.latest.get(cmd.edge_id, {})
        if action is None or action.dynamic_limits is None or self._remote_latest is None:
            return {}
        bounds = (action.dynamic_limits.min, action.dynamic_limits.max)
        addresses = [f"{cmd.device}/{b.channel}" for b in bounds if b is not None]
        return await self._remote_latest(cmd.edge_id, addresses)

    def _validate_dynamic(
        self, cmd: UiCommand, action: ActionSpec | None, latest: Latest, now: float
    ) -> Problem | None:
        if action is None or action.dynamic_limits is None:
            return None
        prefix = f"{cmd.device}/"

        def lookup(channel: str) -> tuple[object, float] | None:
            return latest.get(prefix + channel)

        limits = dynamic_limits(action, lookup, now)
        if isinstance(limits, Problem):
            return limits
        if isinstance(cmd.value, int | float) and not isinstance(cmd.value, bool):
            return within(limits, cmd.value, action.value.unit)
        return None

    # -- to an edge --------------------------------------------------------
    async def _send(self, tracked: Tracked, session: EdgeSession, now: float) -> bool:
        if tracked.terminal:
            return True  # finished already (e.g. handed out twice after a recovery)
        deadline_s = await self._watch(tracked, now)
        return self._emit(tracked, session, deadline_s)

    async def _watch(self, tracked: Tracked, now: float) -> float:
        """Put the command in the in-flight set; returns its deadline [s, Unix epoch]."""
        deadline_s = now + self._watchdog_s
        await self._inflight.add(
            tracked.command_id, tracked.edge_id, deadline_s, tracked.envelope()
        )
        return deadline_s

    async def _watch_unless_queued(
        self, tracked: Tracked, now: float, envelope: str
    ) -> float | None:
        """:meth:`_watch`, only while nothing waits in the edge's queue (in the same
        Redis step); None, and nothing added, when something does."""
        deadline_s = now + self._watchdog_s
        added = await self._inflight.add_unless_queued(
            tracked.command_id,
            tracked.edge_id,
            deadline_s,
            envelope,
            self._queue.queue_key(tracked.edge_id),
        )
        return deadline_s if added else None

    def _emit(self, tracked: Tracked, session: EdgeSession, deadline_s: float) -> bool:
        """Write the command to the edge's socket; ``deadline_s`` is when the watchdog fires.

        The edge refuses it after ``deadline_s`` less the ack allowance (less its own
        drift margin).
        """
        sent = session.peer.send(
            CloudToEdgeCommand(
                command_id=tracked.command_id,
                device=tracked.device,
                action=tracked.action,
                value=tracked.value,  # type: ignore[arg-type]
                issued_at=datetime.fromisoformat(tracked.issued_at),
                deadline=datetime.fromtimestamp(deadline_s - self._ack_allowance_s, UTC),
                user=tracked.username,
            )
        )
        self._audit(
            "cloud.sent", tracked.command_id, tracked.username, tracked.edge_id, "sent", None
        )
        return sent

    def _hand_over(self, tracked: Tracked, owner: str, envelope: str, deadline_s: float) -> None:
        """Hand the command (already watched) to the process holding its edge.

        Pub/sub may lose it (that process died, Redis restarted): the in-flight
        entry, added first, then fails it with ``edge_timeout``, never silence.
        """
        assert self._cluster is not None
        self._cluster.route_command(owner, envelope, deadline_s)
        self._audit(
            "cloud.routed", tracked.command_id, tracked.username, tracked.edge_id, "routed", None
        )

    def on_routed(self, message: Mapping[str, Any]) -> None:
        """A command another process accepted for an edge held here: send it on, in order."""
        tracked = self._tracked(message["envelope"], "received")
        tracked.routed = True
        edge_id = tracked.edge_id
        previous = self._routed.get(edge_id)
        task = asyncio.create_task(
            self._send_routed(tracked, float(message["deadline"]), previous),
            name=f"routed-{tracked.command_id}",
        )
        self._routed[edge_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._routed.get(edge_id) is done:
                del self._routed[edge_id]

        task.add_done_callback(forget)

    async def _send_routed(
        self, tracked: Tracked, deadline_s: float, previous: asyncio.Task[None] | None
    ) -> None:
        # In the order they came (one after the other), and after what this
        # process is draining from the edge's queue: those were accepted earlier.
        if previous is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)
        while self._is_draining(tracked.edge_id):
            with contextlib.suppress(Exception):
                await asyncio.shield(self._draining[tracked.edge_id])
        session = self._hub.edges.get(tracked.edge_id)
        if session is None or tracked.terminal or self._clock.time() >= deadline_s:
            # Gone meanwhile, or too late: the watchdog reports edge_timeout.
            self._audit(
                "cloud.routed_undeliverable",
                tracked.command_id,
                tracked.username,
                tracked.edge_id,
                tracked.status,
                None,
            )
            return
        self._emit(tracked, session, deadline_s)

    def _delivery_worker(self, edge_id: str) -> str:
        return f"{self._worker_id}.{edge_id}"

    def _is_draining(self, edge_id: str) -> bool:
        task = self._draining.get(edge_id)
        return task is not None and not task.done()

    def drain(self, edge_id: str) -> None:
        """Deliver ``edge_id``'s queue in order (one drain per edge at a time)."""
        if self._is_draining(edge_id):
            # The running drain may already have seen an empty queue: make it look again.
            self._drain_again.add(edge_id)
        else:
            self._draining[edge_id] = asyncio.create_task(
                self._drain(edge_id), name=f"drain-{edge_id}"
            )

    async def _drain(self, edge_id: str) -> None:
        while True:
            session = self._hub.edges.get(edge_id)
            if session is None:
                return
            taken = await self._queue.take_for_delivery(
                edge_id, self._delivery_worker(edge_id), now_s=self._clock.time()
            )
            if taken is None:
                # No await between this check and returning, so a drain() call
                # cannot slip in between and be lost.
                if edge_id in self._drain_again:
                    self._drain_again.discard(edge_id)
                    continue
                return
            now = self._clock.time()
            if isinstance(taken, ExpiredInQueue):
                self._finish_removed(
                    taken.expired.payload,
                    "timeout_in_queue",
                    f"not delivered within its ttl ({edge_id} was offline)",
                    now,
                )
                continue
            assert isinstance(taken, ToDeliver)
            tracked = self._tracked(taken.command.payload, "queued")
            if not await self._send(tracked, session, now):
                # The socket closed under us: back to the front of the queue.
                await self._inflight.complete(tracked.command_id)
                await self._queue.recover(self._delivery_worker(edge_id))
                return
            await self._queue.delivered(edge_id, self._delivery_worker(edge_id), tracked.command_id)

    # -- from an edge ------------------------------------------------------
    async def record_inventory(
        self,
        edge_id: str,
        devices: list[DeviceRef],
        controllers: Sequence[ControllerRef] = (),
    ) -> None:
        """Keep what an edge reported, here and in the shared store."""
        self._hub.inventory[edge_id] = list(devices)
        self._hub.controllers[edge_id] = list(controllers)
        await self._inventories.save(edge_id, [d.model_dump() for d in devices])
        await self._inventories.save_controllers(
            edge_id, [c.model_dump(exclude_none=True) for c in controllers]
        )

    async def on_edge_ack(self, edge_id: str, ack: EdgeAck) -> None:
        tracked = self.commands.get(ack.command_id)
        if tracked is not None and tracked.edge_id != edge_id:
            self._audit(
                "cloud.ack_wrong_edge", ack.command_id, None, edge_id, ack.status, ack.reason
            )
            return
        now = self._clock.time()
        if ack.status not in TERMINAL:
            if tracked is None or tracked.terminal:
                return
            if tracked.routed and not await self._inflight.contains(ack.command_id):
                # Another process already reported its final status (its watchdog).
                self._audit("cloud.late_ack", ack.command_id, None, edge_id, ack.status, ack.reason)
                return
            self._set(tracked, ack.status, ack.reason, ack.detail, now)
            return
        envelope = await self._inflight.finish(ack.command_id, edge_id)
        if envelope is None:
            # The watchdog got there first (or this ack repeats): audit only.
            self._audit("cloud.late_ack", ack.command_id, None, edge_id, ack.status, ack.reason)
            return
        if tracked is None:  # sent before this process restarted: its envelope says whose
            tracked = self._tracked(envelope.decode(), "received")
        if tracked.terminal:
            # A repeat of a final status for a command sent twice: never a second one.
            self._audit("cloud.late_ack", ack.command_id, None, edge_id, ack.status, ack.reason)
            return
        self._set(tracked, ack.status, ack.reason, ack.detail, now)

    # -- workers -----------------------------------------------------------
    async def watchdog_pass(self) -> int:
        """Fail every sent command whose deadline passed; returns how many this call failed."""
        entries = await self._inflight.claim_expired(self._clock.time())
        for entry in entries:
            self._finish_removed(
                entry.text,
                "edge_timeout",
                f"no final status from {entry.edge_id} within {self._watchdog_s:g} s",
                self._clock.time(),
            )
        return len(entries)

    async def expiry_pass(self) -> int:
        """Fail every queued command whose ttl passed; returns how many this call failed."""
        expired = await self._queue.expire(self._clock.time())
        for command in expired:
            self._finish_removed(
                command.payload,
                "timeout_in_queue",
                f"not delivered within its ttl ({command.edge_id} stayed offline)",
                self._clock.time(),
            )
        return len(expired)

    async def _watchdog(self) -> None:
        while True:
            try:
                await self.watchdog_pass()
            except Exception:
                log.exception("watchdog pass failed; retrying")
            await asyncio.sleep(_WORKER_PERIOD_S)

    async def _expiry(self) -> None:
        while True:
            try:
                await self.expiry_pass()
            except Exception:
                log.exception("queue expiry pass failed; retrying")
            await asyncio.sleep(_WORKER_PERIOD_S)

    def _finish_removed(self, envelope: str, reason: str, detail: str, now: float) -> None:
        """Fail a command this process removed from the in-flight set or a queue."""
        tracked = self._tracked(envelope, "queued")
        if tracked.terminal:
            self._audit(
                "cloud.late_failure",
                tracked.command_id,
                tracked.username,
                tracked.edge_id,
                "failed",
                reason,
            )
            return
        self._audit(
            "cloud.timed_out",
            tracked.command_id,
            tracked.username,
            tracked.edge_id,
            "failed",
            reason,
            detail,
        )
        self._set(tracked, "failed", reason, detail, now)

    def _tracked(self, envelope: str, status: str) -> Tracked:
        """The command's record here, or one rebuilt from Redis (after a restart)."""
        fresh = Tracked.from_envelope(envelope, status)
        known = self.commands.get(fresh.command_id)
        if known is not None:
            return known
        self._remember(fresh)
        return fresh

    # -- bookkeeping -------------------------------------------------------
    def _answer(
        self, tracked: Tracked, status: str, reason: str | None, detail: str | None, now: float
    ) -> UiAck:
        """The immediate ack of :meth:`submit`, then whatever overtook it, in order.

        A command pushed into the queue of an edge that connects meanwhile can be
        delivered (even finished) while :meth:`submit` still waits for the push:
        those statuses wait in ``tracked.deferred`` so that everyone sees
        ``queued`` first.
        """
        ack = self._ack_frame(tracked, status, reason, detail, now)
        if tracked.status == "new":
            tracked.status = status
        tracked.answered = True
        self._publish(tracked, ack)
        for later in tracked.deferred:
            self._publish(tracked, later)
        tracked.deferred.clear()
        return ack

    def _set(
        self, tracked: Tracked, status: str, reason: str | None, detail: str | None, now: float
    ) -> UiAck:
        tracked.status = status
        ack = self._ack_frame(tracked, status, reason, detail, now)
        if tracked.answered:
            self._publish(tracked, ack)
        else:
            tracked.deferred.append(ack)
        return ack

    @staticmethod
    def _ack_frame(
        tracked: Tracked, status: str, reason: str | None, detail: str | None, now: float
    ) -> UiAck:
        return UiAck(
            command_id=tracked.command_id,
            edge_id=tracked.edge_id,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            detail=detail,
            at=datetime.fromtimestamp(now, UTC),
        )

    def _publish(self, tracked: Tracked, ack: UiAck) -> None:
        """Record one status change and tell the user's dashboards and the listeners."""
        tracked.history.append((ack.status, ack.reason, ack.at.timestamp()))
        self._audit(
            "cloud.acked",
            tracked.command_id,
            tracked.username,
            tracked.edge_id,
            ack.status,
            ack.reason,
            ack.detail,
        )
        self._tell_user(tracked.username, ack)
        for listener in self.listeners:
            try:
                listener(tracked, ack)
            except Exception:
                log.exception("command status listener failed")

    def _ack(
        self, username: str, cmd: UiCommand, status: str, reason: str, detail: str, now: float
    ) -> UiAck:
        """An ack about a frame that is not a tracked command (e.g. a replay)."""
        ack = UiAck(
            command_id=cmd.command_id,
            edge_id=cmd.edge_id,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            detail=detail,
            at=datetime.fromtimestamp(now, UTC),
        )
        self._audit("cloud.acked", cmd.command_id, username, cmd.edge_id, status, reason)
        self._tell_user(username, ack)
        for listener in self.refusal_listeners:
            listener(ack)
        return ack

    def _tell_user(self, username: str, ack: UiAck) -> None:
        """Every dashboard of the user, on this process and (through Redis) on the others."""
        text = encode(ack)  # once, for every socket and the other processes
        for ui in self._hub.users.get(username, ()):
            ui.peer.send_text(text)
        if self._cluster is not None:
            self._cluster.user_ack(username, text)

    def _remember(self, tracked: Tracked) -> None:
        self.commands[tracked.command_id] = tracked
        while len(self.commands) > _REMEMBER:
            self.commands.popitem(last=False)

    def _audit(
        self,
        event: str,
        command_id: str,
        user: str | None,
        edge_id: str,
        status: str,
        reason: str | None,
        detail: str | None = None,
    ) -> None:
        self.audit.record(
            event,
            command_id,
            self._clock.time(),
            user=user,
            edge_id=edge_id,
            status=status,
            reason=reason,
            detail=detail,
        )


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
