"""Commands in, acks out: the edge end of the command lifecycle (DESIGN section 4).

A command from the cloud goes through :class:`~ems.edge.requests.RequestWriter`
(the only way commands enter the DAL) and is answered at once with
``delivered`` (the request channel holds it) or ``rejected``/``failed`` with the
writer's reason. The final ``executed``/``failed`` status a controller writes to
an ``ack/…`` channel is forwarded when it appears. Every ack waits in an
:class:`AckOutbox` until the socket takes it, so acks produced while the link
is down are sent, in order, after it reconnects.

At most once: with a :class:`~ems.edge.link.seen.SeenCommands`, a command is
recorded on disk as taken *before* it is submitted, and its statuses are
recorded as they are reported. A command id delivered again (after a
reconnect, or after this edge restarted) is answered with its recorded status
and never submitted again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import ValidationError

from ems.audit import AuditTrail
from ems.clock import Clock
from ems.edge.link._wire import utc_datetime
from ems.edge.link.recent_acks import RecentAcks
from ems.edge.link.seen import SeenCommands, SeenRecord
from ems.edge.requests import CommandRequest, Verdict
from ems.protocol import CloudToEdgeCommand, EdgeAck, FrameError
from ems.timefmt import parse_rfc3339, to_rfc3339

__all__ = ["AckOutbox", "CommandDispatcher", "audit_ack_sent"]

log = logging.getLogger(__name__)

#: Outbox length above which a warning is logged: acks are rare, so a long
#: outbox means the link has been down for a long time with commands in flight.
OUTBOX_WARN = 1000
_MAX_DETAIL = 1000  # EdgeAck.detail's limit [characters]
#: Final statuses a controller writes to an ``ack/…`` channel (``rejected``: a
#: set_controller whose parameters its controller refused).
_FINAL = frozenset({"executed", "failed", "rejected"})
#: Acks sent again on a new connection: the ones that end a command.
_RESENT = _FINAL
#: Final acks sent less than this long before a connection ended are sent again on
#: the next one [s]: the socket took them, but a cloud process that died (or a
#: connection that broke) right then may never have read them, and the watchdog
#: would report the command edge_timeout although it ran. Twice the cloud's
#: default watchdog (5 s); a repeat of an ack the cloud already has is only audited.
RESEND_WINDOW_S = 10.0


class AckOutbox:
    """Acks waiting for the socket, oldest first.

    Unbounded on purpose: an ack is a command's only way to reach its final
    status, so none is ever dropped, and acks are few (one or two per operator
    command). ``on_ready`` is called whenever an ack is added.

    Final acks sent within ``resend_window_s`` [s] are sent again on the next
    connection (:meth:`resend_recent`). With a ``journal``, they are also sent
    again by the next edge process: every final ack is journaled when queued
    and when sent, and the ones a previous process journaled within the window
    are loaded here, to go out on the first connection.
    """

    def __init__(
        self,
        on_ready: Callable[[], None],
        now: Callable[[], float] = time.monotonic,
        *,
        resend_window_s: float = RESEND_WINDOW_S,
        journal: RecentAcks | None = None,
    ) -> None:
        self._acks: deque[EdgeAck] = deque()
        self._on_ready = on_ready
        # (status, reason or "") -> acks put, for /metrics.
        self.counts: Counter[tuple[str, str]] = Counter()
        self._now = now  # monotonic seconds, for the resend window
        self._resend_window_s = resend_window_s
        self._journal = journal
        self._recent: deque[tuple[float, EdgeAck]] = deque()  # final acks sent, oldest first
        if journal is not None:
            now_s = self._now()
            self._recent.extend((now_s - age_s, ack) for age_s, ack in journal.load())

    def __len__(self) -> int:
        return len(self._acks)

    def put(self, ack: EdgeAck) -> None:
        self._acks.append(ack)
        self.counts[(ack.status, ack.reason or "")] += 1
        if self._journal is not None and ack.status in _RESENT:
            # Before the socket may take it: a process killed the moment after
            # sending still leaves it for the next one to send.
            self._journal.append(ack)
        if len(self._acks) == OUTBOX_WARN:
            log.warning("%d acks waiting for the cloud connection", OUTBOX_WARN)
        self._on_ready()

    def peek(self) -> EdgeAck | None:
        """The oldest ack, left in place until :meth:`sent` confirms it went out."""
        return self._acks[0] if self._acks else None

    def sent(self) -> None:
        """Drop the oldest ack: the socket took it (final ones are kept a while, see
        :meth:`resend_recent`)."""
        ack = self._acks.popleft()
        if ack.status in _RESENT:
            self._recent.append((self._now(), ack))
            if self._journal is not None:
                self._journal.append(ack)  # the window now runs from the send
            self._forget_old(self._resend_window_s)

    def resend_recent(self, window_s: float | None = None) -> int:
        """Queue again, ahead of the waiting ones, the final acks sent within ``window_s``
        (default: the outbox's resend window) [s].

        For a new connection: what the last one took may have died with it.
        Returns how many.
        """
        self._forget_old(self._resend_window_s if window_s is None else window_s)
        again = [ack for _, ack in self._recent]
        self._recent.clear()
        self._acks.extendleft(reversed(again))
        if again:
            self._on_ready()
        return len(again)

    def _forget_old(self, window_s: float) -> None:
        cutoff = self._now() - window_s
        while self._recent and self._recent[0][0] < cutoff:
            self._recent.popleft()


class CommandDispatcher:
    """Turns cloud commands into requests and DAL acks into ack frames.

    Runs on the event loop only (the link hands store callbacks over with
    ``call_soon_threadsafe``), so it needs no lock. ``seen`` is the durable
    record of commands taken (the truth across restarts); without it, only the
    last ``remember`` command ids of this process are known.
    """

    def __init__(
        self,
        submit: Callable[[CommandRequest], Verdict],
        clock: Clock,
        outbox: AckOutbox,
        *,
        remember: int = 4096,
        seen: SeenCommands | None = None,
        audit: AuditTrail | None = None,
    ) -> None:
        self._submit = submit
        self._audit = audit or AuditTrail("edge")
        self._clock = clock
        self._outbox = outbox
        self._seen = seen
        # Latest ack per recent command id: a fast path in front of ``seen``
        # (no disk read for a re-delivery in the same process), and the only
        # memory of answers given to unreadable frames, which are never taken.
        self._latest: OrderedDict[str, EdgeAck] = OrderedDict()
        self._remember = remember
        self.commands_received = 0
        self.duplicates = 0

    def handle(self, command: CloudToEdgeCommand) -> EdgeAck:
        """Submit a command and queue its first ack; returns that ack."""
        self.commands_received += 1
        self._audit.record(
            "edge.received",
            command.command_id,
            self._clock.time(),
            user=command.user,
            detail=f"{command.device} {command.action} {command.value!r}",
            device=command.device,
            action=command.action,
            value=command.value,
            deadline=to_rfc3339(command.deadline.timestamp()),
        )
        known = self._latest.get(command.command_id)
        # Recorded on disk before the request channel is written: once
        # submitted, the command may be applied at the next cycle, and a power
        # cut after that must not leave this edge willing to take it again.
        if (
            known is None
            and self._seen is not None
            and not self._seen.record_taken(command.command_id)
        ):
            known = self._from_record(command.command_id)
            self._remember_ack(known)
        if known is not None:
            # Executing it again could apply a setpoint the operator has since
            # replaced; the cloud only needs to hear where the command stands.
            self.duplicates += 1
            self._audit.record(
                "edge.duplicate",
                command.command_id,
                self._clock.time(),
                user=command.user,
                status=known.status,
                reason=known.reason,
                detail="received again: answered from the record, not executed again",
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
        self._record(ack)
        self._enqueue(ack)
        return ack

    def refuse_unreadable(self, error: FrameError) -> EdgeAck | None:
        """``rejected(<code>)`` for a command frame that named its id but failed to decode.

        Without this the command would sit at ``received`` until the cloud's
        watchdog fails it; with it the operator learns at once what was wrong.
        """
        if error.frame_type != "command" or error.command_id is None:
            return None
        if error.command_id in self._latest or (
            self._seen is not None and self._seen.get(error.command_id) is not None
        ):
            return None  # never contradict an answer already given
        # Not recorded as taken: an unreadable command is never submitted, so
        # running it "again" is impossible.
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
        # Recorded before it is queued: a re-delivery after the cloud heard
        # the outcome is then answered with that outcome.
        self._record(ack)
        self._enqueue(ack)
        return ack

    @property
    def durable(self) -> bool:
        """Whether taken commands are recorded on disk (they survive a restart)."""
        return self._seen is not None and self._seen.durable

    def _from_record(self, command_id: str) -> EdgeAck:
        """The answer to a re-delivered command, from the durable record."""
        assert self._seen is not None
        record = self._seen.get(command_id)
        try:
            return _ack_from_record(command_id, record, self._clock.time())
        except ValidationError as exc:
            # A row this class did not write (edited by hand?): still never run
            # the command again; "delivered" lets the cloud's watchdog settle it.
            log.error(
                "record of command %s is unreadable (%s); answering delivered", command_id, exc
            )
            return _ack_from_record(command_id, None, self._clock.time())

    def _record(self, ack: EdgeAck) -> None:
        # Closed: the link has stopped and this is a final ack that was still
        # on its way. Unrecorded, the command reads "delivered" to a later
        # delivery, which is still never executed again.
        if self._seen is not None and not self._seen.closed:
            self._seen.update(
                ack.command_id, ack.status, ack.reason, ack.detail, ack.at.timestamp()
            )

    def _remember_ack(self, ack: EdgeAck) -> None:
        self._latest[ack.command_id] = ack
        self._latest.move_to_end(ack.command_id)
        while len(self._latest) > self._remember:
            self._latest.popitem(last=False)

    def _enqueue(self, ack: EdgeAck) -> None:
        self._remember_ack(ack)
        self._outbox.put(ack)


def _ack_from_record(command_id: str, record: SeenRecord | None, now_s: float) -> EdgeAck:
    """Where a recorded command stands, as an ack frame.

    Taken with no verdict yet (the edge stopped between recording and
    submitting, or before the verdict was recorded) reads as ``delivered``: it
    may have reached the request channel, so it must not be submitted again.
    A record that vanished between the insert and this read (pruned, or the
    file replaced after an error) reads the same way.
    """
    if record is None or record.status == "taken":
        at_s = now_s if record is None else record.received_at
        return EdgeAck(type="ack", command_id=command_id, status="delivered", at=utc_datetime(at_s))
    return EdgeAck(
        type="ack",
        command_id=command_id,
        status=record.status,
        reason=record.reason,
        detail=_clip(record.detail),
        at=utc_datetime(record.received_at if record.at is None else record.at),
    )


def audit_ack_sent(trail: AuditTrail, ack: EdgeAck, now_s: float) -> None:
    """The audit record for an ack the socket took."""
    trail.record(
        "edge.ack_sent",
        ack.command_id,
        now_s,
        status=ack.status,
        reason=ack.reason,
        detail=ack.detail,
    )


def _first_status(status: str) -> Literal["delivered", "rejected", "failed"]:
    """A :class:`Verdict` status as an ack status (the writer uses these three)."""
    if status == "delivered":
        return "delivered"
    return "rejected" if status == "rejected" else "failed"


def _clip(detail: object) -> str | None:
    return None if detail is None else str(detail)[:_MAX_DETAIL]
