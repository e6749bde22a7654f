"""Where an accepted command goes, behind one port: :meth:`Router.route`.

- **this process's edge**: checked against its latest telemetry (the cache of
  every frame that passed through here), put in flight, written to its socket;
- **another process's edge**: checked against the shared latest-value table,
  put in flight, handed to that process over the bus (which sends it on);
- **the offline queue**: the edge is offline, or earlier commands still wait
  for it (FIFO per edge); checked only statically now, the edge's controller
  revalidates it when it runs (DESIGN section 4).

The answer is the command's immediate status: ``received``, ``queued`` or
``rejected``.
"""

from __future__ import annotations

from ems.cloud.commands.checks import bounding_channels, check_dynamic
from ems.cloud.commands.delivery import Delivery
from ems.cloud.commands.ports import Latest, LatestSource, Peers
from ems.cloud.commands.reporter import Reporter
from ems.cloud.commands.sending import Sender
from ems.cloud.commands.tracked import Tracked
from ems.cloud.hub import EdgeSession, Hub
from ems.cloud.shared import OfflineQueue
from ems.profiles import ActionSpec
from ems.protocol import UiAck, UiCommand, reasons
from ems.protocol.statuses import QUEUED, RECEIVED, REJECTED

__all__ = ["Router"]


class Router:
    def __init__(
        self,
        hub: Hub,
        reporter: Reporter,
        sender: Sender,
        delivery: Delivery,
        queue: OfflineQueue,
        peers: Peers | None,
        remote_latest: LatestSource | None,
        *,
        queue_offline: bool,
    ) -> None:
        self._hub = hub
        self._reporter = reporter
        self._sender = sender
        self._delivery = delivery
        self._queue = queue
        self._peers = peers
        self._remote_latest = remote_latest
        self._queue_offline = queue_offline

    async def route(
        self, tracked: Tracked, cmd: UiCommand, action: ActionSpec | None, now: float
    ) -> UiAck:
        """Send, hand over or queue a command that passed the static checks."""
        edge_id = cmd.edge_id
        session = self._hub.edges.get(edge_id)
        owner = None  # the other cloud process holding the edge
        if session is None and self._peers is not None:
            owner = await self._peers.remote_owner(edge_id)
        # While an edge's queue drains, newer commands line up behind it (FIFO).
        # (The holder of a remote edge waits for its own drain before sending.)
        if (session is not None and not self._delivery.is_draining(edge_id)) or owner is not None:
            # It goes out now and runs within a cycle: judge it by what the edge
            # reports now. A queued command is revalidated by the edge when it runs.
            latest = await self._latest(cmd, action, session)
            problem = check_dynamic(cmd, action, latest, now)
            if problem is None:
                sent = await self._send_now(tracked, session, owner, now)
                if sent:
                    return self._reporter.answer(tracked, RECEIVED, None, f"sent to {edge_id}", now)
            elif await self._queue.depth(edge_id) == 0:
                return self._reporter.answer(tracked, REJECTED, problem.reason, problem.detail, now)
            # Else commands wait in the edge's queue: this one lines up behind them.
        return await self.enqueue(
            tracked, cmd, online=session is not None or owner is not None, now=now
        )

    async def _send_now(
        self, tracked: Tracked, session: EdgeSession | None, owner: str | None, now: float
    ) -> bool:
        """In flight, then out; False (nothing done) when commands wait in the queue."""
        envelope = tracked.envelope()
        deadline_s = await self._sender.watch_unless_queued(tracked, now, envelope)
        if deadline_s is None:
            return False
        if session is not None:
            self._sender.emit(tracked, session, deadline_s)
        else:
            # Pub/sub may lose it (that process died, Redis restarted): the
            # in-flight entry, added first, then fails it with edge_timeout.
            assert owner is not None
            assert self._peers is not None
            self._peers.route_command(owner, envelope, deadline_s)
            self._reporter.waypoint(
                "cloud.routed",
                tracked.command_id,
                tracked.username,
                tracked.edge_id,
                "routed",
                None,
            )
        return True

    async def enqueue(self, tracked: Tracked, cmd: UiCommand, *, online: bool, now: float) -> UiAck:
        """Into the edge's queue (``online``: it waits behind earlier commands)."""
        edge_id = cmd.edge_id
        if not online and not self._queue_offline:
            return self._reporter.answer(
                tracked, REJECTED, reasons.EDGE_OFFLINE, f"{edge_id} is not connected", now
            )
        pushed = await self._queue.push(
            edge_id, cmd.command_id, tracked.envelope(), now + cmd.ttl_s
        )
        if not pushed.queued:
            return self._reporter.answer(
                tracked,
                REJECTED,
                reasons.QUEUE_FULL,
                f"{edge_id} already has {self._queue.limit} commands waiting",
                now,
            )
        self._reporter.waypoint(
            "cloud.queued", cmd.command_id, tracked.username, edge_id, QUEUED, None
        )
        where = (
            f"{edge_id} is offline"
            if not online
            else f"{edge_id} is still receiving earlier commands"
        )
        ack = self._reporter.answer(
            tracked,
            QUEUED,
            None,
            f"{where}; position {pushed.position}, expires in {cmd.ttl_s} s",
            now,
        )
        # Looked at after the push: the edge may have connected (and found its
        # queue empty) while this command was on its way into the queue.
        if edge_id in self._hub.edges:
            self._delivery.drain(edge_id)
        elif self._peers is not None:
            owner = await self._peers.remote_owner(edge_id)
            if owner is not None:
                self._peers.request_drain(owner, edge_id)
        return ack

    async def _latest(
        self, cmd: UiCommand, action: ActionSpec | None, session: EdgeSession | None
    ) -> Latest:
        """The edge's newest values of the channels bounding ``action``.

        An edge held here: every frame passed through this process, so its own
        cache is as fresh as the latest-value table. An edge held by another
        process: that table (shared by every process), read once per command.
        """
        if session is not None:
            return self._hub.latest.get(cmd.edge_id, {})
        addresses = bounding_channels(cmd.device, action)
        if not addresses or self._remote_latest is None:
            return {}
        return await self._remote_latest(cmd.edge_id, addresses)
