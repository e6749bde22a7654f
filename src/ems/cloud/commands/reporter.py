"""Status changes: the ack frame, the audit record, the user's dashboards, the listeners.

Every status of a command goes to every dashboard of its user, on this
process and (through :class:`~ems.cloud.commands.ports.Peers`) on the others,
and to the listeners (the command records, the metrics). The immediate answer
of a submission comes first: a status that overtakes it (a command pushed
into the queue of an edge that connects meanwhile can be delivered, even
finished, before the push returns) waits in ``tracked.deferred``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from ems.audit import AuditTrail
from ems.clock import Clock
from ems.cloud.commands.ports import Peers
from ems.cloud.commands.tracked import NEW, Tracked
from ems.cloud.hub import Hub
from ems.protocol import UiAck, UiCommand, encode
from ems.protocol.statuses import AckStatus

__all__ = ["Reporter", "StatusListener"]

log = logging.getLogger(__name__)

#: Called with every status change (the command records, the metrics).
StatusListener = Callable[[Tracked, UiAck], None]


class Reporter:
    def __init__(self, hub: Hub, clock: Clock, audit: AuditTrail, peers: Peers | None) -> None:
        self._hub = hub
        self._clock = clock
        self.audit = audit
        self._peers = peers
        self.listeners: list[StatusListener] = []
        #: Called with refusals of frames that never became tracked commands (a replay).
        self.refusal_listeners: list[Callable[[UiAck], None]] = []

    def answer(
        self,
        tracked: Tracked,
        status: AckStatus,
        reason: str | None,
        detail: str | None,
        now: float,
    ) -> UiAck:
        """The immediate ack of a submission, then whatever overtook it, in order."""
        ack = _frame(tracked.command_id, tracked.edge_id, status, reason, detail, now)
        if tracked.status == NEW:
            tracked.status = status
        tracked.answered = True
        self._publish(tracked, ack)
        for later in tracked.deferred:
            self._publish(tracked, later)
        tracked.deferred.clear()
        return ack

    def change(
        self,
        tracked: Tracked,
        status: AckStatus,
        reason: str | None,
        detail: str | None,
        now: float,
    ) -> UiAck:
        """A later status (``delivered``, a final one)."""
        tracked.status = status
        ack = _frame(tracked.command_id, tracked.edge_id, status, reason, detail, now)
        if tracked.answered:
            self._publish(tracked, ack)
        else:
            tracked.deferred.append(ack)
        return ack

    def refuse(self, username: str, cmd: UiCommand, reason: str, detail: str, now: float) -> UiAck:
        """``rejected`` about a frame that is not a tracked command (a replay, a rate limit)."""
        ack = _frame(cmd.command_id, cmd.edge_id, "rejected", reason, detail, now)
        self.waypoint("cloud.acked", cmd.command_id, username, cmd.edge_id, "rejected", reason)
        self._tell_user(username, ack)
        for listener in self.refusal_listeners:
            listener(ack)
        return ack

    def waypoint(
        self,
        event: str,
        command_id: str,
        user: str | None,
        edge_id: str,
        status: str,
        reason: str | None,
        detail: str | None = None,
    ) -> None:
        """One audit record (DESIGN section 8)."""
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

    def _publish(self, tracked: Tracked, ack: UiAck) -> None:
        tracked.history.append((ack.status, ack.reason, ack.at.timestamp()))
        self.waypoint(
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

    def _tell_user(self, username: str, ack: UiAck) -> None:
        """Every dashboard of the user, on this process and on the others."""
        text = encode(ack)  # once, for every socket and the other processes
        for ui in self._hub.users.get(username, ()):
            ui.peer.send_text(text)
        if self._peers is not None:
            self._peers.user_ack(username, text)


def _frame(
    command_id: str,
    edge_id: str,
    status: AckStatus,
    reason: str | None,
    detail: str | None,
    now: float,
) -> UiAck:
    return UiAck(
        command_id=command_id,
        edge_id=edge_id,
        status=status,
        reason=reason,
        detail=detail,
        at=datetime.fromtimestamp(now, UTC),
    )
