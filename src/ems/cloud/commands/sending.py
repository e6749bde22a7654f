"""Putting a command on this process's socket of its edge, watched.

A command goes into the in-flight set (one Redis step) before it is written
to the socket, with the deadline at which the watchdog fails it
(``edge_timeout``). The edge is told a deadline ``ack_allowance_s`` earlier,
so an ``executed`` sent just before it still reaches the cloud before the
watchdog fires; otherwise the operator would see a failure for a command the
edge ran.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ems.clock import Clock
from ems.cloud.commands.reporter import Reporter
from ems.cloud.commands.tracked import Tracked
from ems.cloud.hub import EdgeSession
from ems.cloud.shared import InFlight, OfflineQueue
from ems.protocol import CloudToEdgeCommand

__all__ = ["Sender"]


class Sender:
    def __init__(
        self,
        inflight: InFlight,
        queue: OfflineQueue,
        reporter: Reporter,
        clock: Clock,
        *,
        watchdog_s: float,
        ack_allowance_s: float,
    ) -> None:
        if not 0 <= ack_allowance_s < watchdog_s:
            raise ValueError("ack_allowance_s must be at least 0 and less than watchdog_s")
        self.inflight = inflight
        self._queue = queue
        self._reporter = reporter
        self._clock = clock
        self.watchdog_s = watchdog_s
        self._ack_allowance_s = ack_allowance_s

    async def send(self, tracked: Tracked, session: EdgeSession, now: float) -> bool:
        """Watch and send a command taken from the queue; False if the socket closed."""
        if tracked.terminal:
            return True  # finished already (e.g. handed out twice after a recovery)
        deadline_s = now + self.watchdog_s
        await self.inflight.add(tracked.command_id, tracked.edge_id, deadline_s, tracked.envelope())
        return self.emit(tracked, session, deadline_s)

    async def watch_unless_queued(
        self, tracked: Tracked, now: float, envelope: str
    ) -> float | None:
        """Put the command in flight, only while nothing waits in the edge's queue
        (in the same Redis step); returns its deadline [s, Unix epoch], or None
        (nothing added) when something waits."""
        deadline_s = now + self.watchdog_s
        added = await self.inflight.add_unless_queued(
            tracked.command_id,
            tracked.edge_id,
            deadline_s,
            envelope,
            self._queue.queue_key(tracked.edge_id),
        )
        return deadline_s if added else None

    def emit(self, tracked: Tracked, session: EdgeSession, deadline_s: float) -> bool:
        """Write the command to the edge's socket; ``deadline_s`` is when the watchdog fires."""
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
        self._reporter.waypoint(
            "cloud.sent", tracked.command_id, tracked.username, tracked.edge_id, "sent", None
        )
        return sent
