"""The command path's front door: a dashboard's command in, an edge's ack in.

:meth:`Dispatcher.submit` runs the checks of DESIGN section 4 in order
(:mod:`~ems.cloud.commands.checks`, the guard in Redis) and hands a command
that passed them to the :class:`~ems.cloud.commands.routes.Router`;
:meth:`Dispatcher.on_edge_ack` moves a tracked command on. The parts are made
here from what the constructor gets; each does one job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Container, Mapping, Sequence
from datetime import UTC, datetime

from ems.audit import AuditTrail
from ems.clock import Clock, RealClock
from ems.cloud.commands.checks import check_dynamic, check_grant, check_role, check_static
from ems.cloud.commands.delivery import Delivery
from ems.cloud.commands.guarded_send import GuardedSend, Then
from ems.cloud.commands.ports import LatestSource, Peers
from ems.cloud.commands.reporter import Reporter, StatusListener
from ems.cloud.commands.routes import Router
from ems.cloud.commands.sending import Sender
from ems.cloud.commands.timeouts import Timeouts
from ems.cloud.commands.tracked import NEW, CommandBook, Tracked
from ems.cloud.hub import EdgeSession, Hub
from ems.cloud.shared import InFlight, Inventories, OfflineQueue
from ems.profiles import DeviceProfile, Problem
from ems.protocol import ControllerRef, DeviceRef, EdgeAck, UiAck, UiCommand, reasons
from ems.protocol.statuses import RECEIVED, REJECTED, TERMINAL
from ems.ratelimit import CommandGuard

__all__ = ["Dispatcher"]


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
        peers: Peers | None = None,
        remote_latest: LatestSource | None = None,
        audit: AuditTrail | None = None,
        guard: CommandGuard | None = None,
    ) -> None:
        clock = clock or RealClock()
        self._hub = hub
        self._profiles = profiles
        self._inflight = inflight
        self._inventories = inventories
        self._queue = queue
        self._clock = clock
        self._guard = guard  # rate limit, replay and freshness (None: replay checked here only)
        self._book = CommandBook()
        #: Where this process's waypoints go (the command records listen to it).
        self.audit = audit or AuditTrail("cloud")
        self._reporter = Reporter(hub, clock, self.audit, peers)
        sender = Sender(
            inflight,
            queue,
            self._reporter,
            clock,
            watchdog_s=watchdog_s,
            ack_allowance_s=ack_allowance_s,
        )
        self._delivery = Delivery(hub, self._book, self._reporter, sender, queue, clock, worker_id)
        self._router = Router(
            hub,
            self._reporter,
            sender,
            self._delivery,
            queue,
            peers,
            remote_latest,
            queue_offline=queue_offline,
        )
        self._sender = sender
        self._guarded = None if guard is None else GuardedSend(guard, inflight, queue)
        self._timeouts = Timeouts(self._book, self._reporter, inflight, queue, clock, watchdog_s)
        self._workers: list[asyncio.Task[None]] = []
        # What other processes send this one (ClusterInbox).
        self.drain = self._delivery.drain
        self.on_routed = self._delivery.on_routed
        self.take_over = self._delivery.take_over
        self.watchdog_pass = self._timeouts.watchdog_pass
        self.expiry_pass = self._timeouts.expiry_pass

    @property
    def commands(self) -> Mapping[str, Tracked]:
        """The commands this process knows, oldest first."""
        return self._book.commands

    @property
    def listeners(self) -> list[StatusListener]:
        """Called with every status change (the command records, the metrics)."""
        return self._reporter.listeners

    @property
    def refusal_listeners(self) -> list[Callable[[UiAck], None]]:
        """Called with refusals of frames that never became tracked commands."""
        return self._reporter.refusal_listeners

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Load the shared inventories, put back what a crash of this process left
        half-delivered, start the watchdog and the queue-expiry worker."""
        for edge_id, devices in (await self._inventories.all()).items():
            self._hub.inventory.setdefault(edge_id, [DeviceRef(**d) for d in devices])
        for edge_id, controllers in (await self._inventories.all_controllers()).items():
            self._hub.controllers.setdefault(
                edge_id, [ControllerRef.model_validate(c) for c in controllers]
            )
        edges = set(self._hub.inventory) | set(await self._queue.edges_with_queues())
        await self._delivery.recover_all(edges)
        self._workers = self._timeouts.start()

    async def stop(self) -> None:
        tasks = [*self._workers, *self._delivery.tasks()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- from a dashboard --------------------------------------------------
    async def submit(
        self, username: str, role: str, cmd: UiCommand, *, edges: Container[str] | None = None
    ) -> UiAck:
        """Check and route. The immediate ack (``received``, ``queued`` or ``rejected``)
        goes to every socket of the user, like every later ack; it is also returned.
        ``edges``: the edges the user's token grants (``None``: every edge)."""
        now = self._clock.time()
        report = self._reporter
        report.waypoint("cloud.received", cmd.command_id, username, cmd.edge_id, RECEIVED, None)
        known = cmd.command_id in self._book
        refusal = check_role(role) or check_grant(cmd.edge_id, edges)
        session = self._hub.edges.get(cmd.edge_id)
        if (
            refusal is None
            and not known
            and session is not None
            and not self._delivery.is_draining(cmd.edge_id)
            and cmd.edge_id in self._hub.inventory
        ):
            return await self._submit_here(username, cmd, session, now)
        if refusal is None and self._guard is not None:
            guarded = await self._guard.check(
                username, cmd.command_id, cmd.issued_at.timestamp(), now
            )
            if guarded is not None and (not guarded.burns_id or known):
                # rate_limited (the id stays free: the client may send it again)
                # or replay: not tracked, the original keeps its own status.
                return report.refuse(username, cmd, guarded.reason, guarded.detail, now)
            if guarded is not None:
                refusal = Problem(guarded.reason, guarded.detail)
        if known:
            # Also past the shared replay window (this process remembers longer).
            if refusal is None:
                refusal = Problem(reasons.REPLAY, "command_id was already used")
            return report.refuse(username, cmd, refusal.reason, refusal.detail, now)
        tracked = _tracked(username, cmd, now)
        self._book.remember(tracked)
        if refusal is not None:
            return report.answer(tracked, REJECTED, refusal.reason, refusal.detail, now)
        if cmd.edge_id not in self._hub.inventory:
            await self._load_inventory(cmd.edge_id)
        checked = check_static(
            cmd,
            self._hub.inventory.get(cmd.edge_id),
            self._hub.controllers.get(cmd.edge_id, []),
            self._profiles,
        )
        if isinstance(checked, Problem):
            return report.answer(tracked, REJECTED, checked.reason, checked.detail, now)
        report.waypoint("cloud.validated", cmd.command_id, username, cmd.edge_id, "validated", None)
        return await self._router.route(tracked, cmd, checked, now)

    async def _submit_here(
        self, username: str, cmd: UiCommand, session: EdgeSession, now: float
    ) -> UiAck:
        """:meth:`submit` for an edge held here, whose queue is not draining: the checks
        that need no Redis first, then the guard and the in-flight entry in one round
        trip (:mod:`~ems.cloud.commands.guarded_send`); the refusals in DESIGN 4's order."""
        report = self._reporter
        edge_id = cmd.edge_id
        checked = check_static(
            cmd,
            self._hub.inventory.get(edge_id),
            self._hub.controllers.get(edge_id, []),
            self._profiles,
        )
        problem = (
            checked
            if isinstance(checked, Problem)
            else check_dynamic(cmd, checked, self._hub.latest.get(edge_id, {}), now)
        )
        tracked = _tracked(username, cmd, now)
        issued_at_s = cmd.issued_at.timestamp()
        if self._guarded is None:
            refusal = None
            sent = None
        else:
            stale = self._guard is not None and self._guard.stale(issued_at_s, now) is not None
            then = (
                Then.NOTHING
                if stale or isinstance(checked, Problem)
                else Then.SEND
                if problem is None
                else Then.DEPTH
            )
            deadline_s = now + self._sender.watchdog_s
            reply = await self._guarded.run(
                username,
                cmd.command_id,
                edge_id,
                issued_at_s,
                now,
                then,
                deadline_s=deadline_s,
                envelope=tracked.envelope() if then is Then.SEND else "",
            )
            if reply.refusal is not None and not reply.refusal.burns_id:
                # rate_limited (the id stays free) or replay: not tracked.
                return report.refuse(username, cmd, reply.refusal.reason, reply.refusal.detail, now)
            refusal = reply.refusal
            sent = reply
        self._book.remember(tracked)
        if refusal is not None:
            return report.answer(tracked, REJECTED, refusal.reason, refusal.detail, now)
        if isinstance(checked, Problem):
            return report.answer(tracked, REJECTED, checked.reason, checked.detail, now)
        report.waypoint("cloud.validated", cmd.command_id, username, edge_id, "validated", None)
        if sent is None:  # no guard: the router asks Redis itself
            return await self._router.route(tracked, cmd, checked, now)
        if problem is not None:
            if sent.depth == 0:
                return report.answer(tracked, REJECTED, problem.reason, problem.detail, now)
            return await self._router.enqueue(tracked, cmd, online=True, now=now)
        if sent.added:
            self._sender.emit(tracked, session, deadline_s)
            return report.answer(tracked, RECEIVED, None, f"sent to {edge_id}", now)
        # Commands wait in the edge's queue: this one lines up behind them.
        return await self._router.enqueue(tracked, cmd, online=True, now=now)

    async def _load_inventory(self, edge_id: str) -> None:
        """An inventory reported to another cloud process, or before this one restarted."""
        stored = await self._inventories.get(edge_id)
        if stored is not None:
            self._hub.inventory[edge_id] = [DeviceRef(**d) for d in stored]
            self._hub.controllers[edge_id] = [
                ControllerRef.model_validate(c)
                for c in await self._inventories.get_controllers(edge_id)
            ]

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
        tracked = self._book.get(ack.command_id)
        report = self._reporter
        if tracked is not None and tracked.edge_id != edge_id:
            report.waypoint(
                "cloud.ack_wrong_edge", ack.command_id, None, edge_id, ack.status, ack.reason
            )
            return
        now = self._clock.time()
        if ack.status not in TERMINAL:
            if tracked is None or tracked.terminal:
                return
            if tracked.routed and not await self._inflight.contains(ack.command_id):
                # Another process already reported its final status (its watchdog).
                report.waypoint(
                    "cloud.late_ack", ack.command_id, None, edge_id, ack.status, ack.reason
                )
                return
            report.change(tracked, ack.status, ack.reason, ack.detail, now)
            return
        # The payload is read back only for a command this process does not track.
        envelope = await self._inflight.finish(ack.command_id, edge_id, payload=tracked is None)
        if envelope is None:
            # The watchdog got there first (or this ack repeats): audit only.
            report.waypoint("cloud.late_ack", ack.command_id, None, edge_id, ack.status, ack.reason)
            return
        if tracked is None:  # sent before this process restarted: its envelope says whose
            tracked = self._book.from_envelope(envelope.decode(), RECEIVED)
        if tracked.terminal:
            # A repeat of a final status for a command sent twice: never a second one.
            report.waypoint("cloud.late_ack", ack.command_id, None, edge_id, ack.status, ack.reason)
            return
        report.change(tracked, ack.status, ack.reason, ack.detail, now)


def _tracked(username: str, cmd: UiCommand, now: float) -> Tracked:
    """A new command, not answered yet."""
    return Tracked(
        cmd.command_id,
        username,
        cmd.edge_id,
        cmd.device,
        cmd.action,
        cmd.value,
        _rfc3339(cmd.issued_at),
        cmd.ttl_s,
        NEW,
        created_at=now,
        answered=False,
    )


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
