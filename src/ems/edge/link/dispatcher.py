"""Commands in, acks out: the edge end of the command lifecycle (DESIGN section 4).

A command from the cloud goes through :class:`~ems.edge.requests.RequestWriter`
(the only way commands enter the DAL) and is answered at once with
``delivered`` (the request channel holds it) or ``rejected``/``failed`` with the
writer's reason. The final ``executed``/``failed`` status a controller writes to
an ``ack/…`` channel is forwarded when it appears. Every ack waits in an
:class:`AckOutbox` until the socket takes it, so acks produced while the link
is down are sent, in order, after it reconnects.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import ValidationError

from ems.clock import Clock
from ems.edge.link._wire import utc_datetime
from ems.edge.requests import CommandRequest, Verdict
from ems.protocol import CloudToEdgeCommand, EdgeAck, FrameError
from ems.timefmt import parse_rfc3339, to_rfc3339

__all__ = ["AckOutbox", "CommandDispatcher", "audit_ack_sent"]

log = logging.getLogger(__name__)
audit = logging.getLogger("ems.audit")

#: Outbox length above which a warning is logged: acks are rare, so a long
#: outbox means the link has been down for a long time with commands in flight.
OUTBOX_WARN = 1000
_MAX_DETAIL = 1000  # EdgeAck.detail's limit [characters]
_FINAL = frozenset({"executed", "failed"})


class AckOutbox:
    """Acks waiting for the socket, oldest first.

    Unbounded on purpose: an ack is a command's only way to reach its final
    status, so none is ever dropped, and acks are few (one or two per operator
    command). ``on_ready`` is called whenever an ack is added.
    """

    def __init__(self, on_ready: Callable[[], None]) -> None:
        self._acks: deque[EdgeAck] = deque()
        self._on_ready = on_ready

    def __len__(self) -> int:
        return len(self._acks)

    def put(self, ack: EdgeAck) -> None:
        self._acks.append(ack)
        if len(self._acks) == OUTBOX_WARN:
            log.warning("%d acks waiting for the cloud connection", OUTBOX_WARN)
        self._on_ready()

    def peek(self) -> EdgeAck | None:
        """The oldest ack, left in place until :meth:`sent` confirms it went out."""
        return self._acks[0] if self._acks else None

    def sent(self) -> None:
        """Drop the oldest ack: the socket took it."""
        self._acks.popleft()


class CommandDispatcher:
    """Turns cloud commands into requests and DAL acks into ack frames.

    Runs on the event loop only (the link hands store callbacks over with
    ``call_soon_threadsafe``), so it needs no lock.
    """

    def __init__(
        self,
        submit: Callable[[CommandRequest], Verdict],
        clock: Clock,
        outbox: AckOutbox,
        *,
        remember: int = 4096,
    ) -> None:
        self._submit = submit
        self._clock = clock
        self._outbox = outbox
        # Latest ack per recent command id: a command the cloud sends again
        # (after a reconnect) is answered from here, never submitted twice.
        self._latest: OrderedDict[str, EdgeAck] = OrderedDict()
        self._remember = remember
        self.commands_received = 0
        self.duplicates = 0

    def handle(self, command: CloudToEdgeCommand) -> EdgeAck:
        """Submit a command and queue its first ack; returns that ack."""
        self.commands_received += 1
        audit.info(
            "command %s received",
            command.command_id,
            extra={
                "event_type": "edge.command_received",
                "command_id": command.command_id,
                "device": command.device,
                "action": command.action,
                "value": command.value,
                "user": command.user,
                "deadline": to_rfc3339(command.deadline.timestamp()),
            },
        )
        known = self._latest.get(command.command_id)
        if known is not None:
            # Executing it again could apply a setpoint the operator has since
            # replaced; the cloud only needs to hear where the command stands.
            self.duplicates += 1
            audit.info(
                "command %s received again; answering %s",
                command.command_id,
                known.status,
                extra={
                    "event_type": "edge.command_duplicate",
                    "command_id": command.command_id,
                    "status": known.status,
                },
            )
            self._outbox.put(known)
            return known
        verdict = self._submit(
            CommandRequest(
                command_id=command.command_id,
                device=command.device,
                action=command.action,
                value=command.value,
                issued_at=to_rfc3339(command.issued_at.timestamp()),
                deadline=to_rfc3339(command.deadline.timestamp()),
                user=command.user,
            )
        )
        ack = EdgeAck(
            type="ack",
            command_id=command.command_id,
            status=_first_status(verdict.status),
            reason=verdict.reason,
            detail=_clip(verdict.detail),
            at=utc_datetime(self._clock.time()),
        )
        self._enqueue(ack)
        return ack

    def refuse_unreadable(self, error: FrameError) -> EdgeAck | None:
        """``rejected(<code>)`` for a command frame that named its id but failed to decode.

        Without this the command would sit at ``received`` until the cloud's
        watchdog fails it; with it the operator learns at once what was wrong.
        """
        if error.frame_type != "command" or error.command_id is None:
            return None
        if error.command_id in self._latest:
            return None  # never contradict an answer already given
        ack = EdgeAck(
            type="ack",
            command_id=error.command_id,
            status="rejected",
            reason=error.code,
            detail=_clip(error.detail),
            at=utc_datetime(self._clock.time()),
        )
        self._enqueue(ack)
        return ack

    def on_final_ack(self, value: Mapping[str, Any]) -> EdgeAck | None:
        """Queue the final status a controller (or the writer) wrote to an ``ack/…`` channel.

        Values that are not a final status of a wire command (a cleared
        channel, an id from a local script that is not a UUID) are skipped.
        """
        status = value.get("status")
        if status not in _FINAL:
            return None
        try:
            ack = EdgeAck(
                type="ack",
                command_id=value["command_id"],
                status=status,
                reason=value.get("reason"),
                detail=_clip(value.get("detail")),
                at=utc_datetime(parse_rfc3339(str(value.get("at")))),
            )
        except (KeyError, ValidationError, ValueError):
            log.debug("ack %r is not for a cloud command; not forwarded", value.get("command_id"))
            return None
        self._enqueue(ack)
        return ack

    def _enqueue(self, ack: EdgeAck) -> None:
        self._latest[ack.command_id] = ack
        self._latest.move_to_end(ack.command_id)
        while len(self._latest) > self._remember:
            self._latest.popitem(last=False)
        self._outbox.put(ack)


def audit_ack_sent(ack: EdgeAck) -> None:
    """The audit record for an ack the socket took."""
    audit.info(
        "command %s ack %s sent",
        ack.command_id,
        ack.status,
        extra={
            "event_type": "edge.ack_sent",
            "command_id": ack.command_id,
            "status": ack.status,
            "reason": ack.reason,
            "detail": ack.detail,
        },
    )


def _first_status(status: str) -> Literal["delivered", "rejected", "failed"]:
    """A :class:`Verdict` status as an ack status (the writer uses these three)."""
    if status == "delivered":
        return "delivered"
    return "rejected" if status == "rejected" else "failed"


def _clip(detail: object) -> str | None:
    return None if detail is None else str(detail)[:_MAX_DETAIL]
