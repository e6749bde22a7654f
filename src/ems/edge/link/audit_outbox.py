"""The edge's audit records on their way to the cloud (the ``audit`` frame).

:class:`AuditOutbox` listens to the edge's :class:`~ems.audit.AuditTrail` and
keeps each waypoint of a cloud command (``edge.*``, ``controller.*``) as an
:class:`~ems.protocol.AuditRecord` until the socket takes it, like the ack
outbox: records made while the link is down go out after it reconnects, in
order. Each record gets a random ``id`` so the cloud stores it once however
often it is sent.

Bounded, unlike the ack outbox: acks decide a command's status, these only
describe it. When ``max_records`` wait, the oldest is dropped and counted
(:attr:`AuditOutbox.dropped`), with a warning the first time.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import deque
from collections.abc import Callable

from pydantic import ValidationError

from ems.audit import AuditEvent
from ems.edge.link._wire import utc_datetime
from ems.protocol import MAX_AUDIT_RECORDS, AuditRecord, EdgeAudit

__all__ = ["FORWARDED", "AuditOutbox"]

log = logging.getLogger(__name__)

#: Edge events sent to the cloud; ``edge.ack_sent`` is left out (the cloud has the ack).
FORWARDED = re.compile(
    r"^(?:edge\.(?:received|duplicate|request_written|request_refused)|controller\.[a-z_]+)$"
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MAX_DETAIL = 1000


class AuditOutbox:
    """Audit records waiting for the socket, oldest first. Runs on the event loop only
    (the trail calls :meth:`on_event` from the cycle and the dispatcher, both on it)."""

    def __init__(self, on_ready: Callable[[], None], max_records: int = 10_000) -> None:
        if max_records < 1:
            raise ValueError("max_records must be >= 1")
        self._records: deque[AuditRecord] = deque()
        self._on_ready = on_ready
        self._max = max_records
        self._seq = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._records)

    def on_event(self, event: AuditEvent) -> None:
        """An :class:`~ems.audit.AuditTrail` listener: keep what the cloud should see."""
        if not FORWARDED.match(event.event) or not _UUID.match(event.command_id):
            return  # a local script's command, or an event the cloud does not store
        try:
            record = AuditRecord(
                id=str(uuid.uuid4()),
                seq=self._seq,
                command_id=event.command_id,
                event=event.event,
                status=event.status,
                reason=event.reason,
                detail=None if event.detail is None else event.detail[:_MAX_DETAIL],
                at=utc_datetime(event.at),
            )
        except ValidationError as exc:
            log.warning(
                "audit record %s of %s not forwarded: %s", event.event, event.command_id, exc
            )
            return
        self._seq += 1
        if len(self._records) >= self._max:
            self._records.popleft()
            self.dropped += 1
            if self.dropped == 1:
                log.warning(
                    "%d audit records wait for the cloud connection; dropping the oldest",
                    self._max,
                )
        self._records.append(record)
        self._on_ready()

    def peek(self) -> EdgeAudit | None:
        """A frame of the oldest records (at most ``MAX_AUDIT_RECORDS``), left in place
        until :meth:`sent` confirms the socket took them."""
        if not self._records:
            return None
        batch = [self._records[i] for i in range(min(len(self._records), MAX_AUDIT_RECORDS))]
        return EdgeAudit(type="audit", records=batch)

    def sent(self, frame: EdgeAudit) -> None:
        """Drop the records of ``frame`` (the oldest ones), unless dropped meanwhile."""
        for record in frame.records:
            if self._records and self._records[0].id == record.id:
                self._records.popleft()
