"""The audit trail: one structured record at every waypoint of a command.

Every record is ``{event, command_id, user, edge_id, status, reason, detail,
at, …}`` with ``event`` named ``<where>.<what>`` (DESIGN section 8):

=================  ==============================================================
``cloud.*``        ``received``, ``validated``, ``queued``, ``sent``, ``routed``,
                   ``acked`` (every status sent to the user), ``timed_out``,
                   ``late_ack``, ``ack_wrong_edge``, ``trace_refused``, …
``edge.*``         ``received``, ``duplicate``, ``request_written``,
                   ``request_refused``, ``ack_sent``
``controller.*``   ``executed``, ``failed``
=================  ==============================================================

A record is built by a native structlog logger (no stdlib ``LogRecord`` per
processor, no formatter chain: the command path is CPU-bound) and handed to
the ``ems.audit`` stdlib logger's handlers as one pre-rendered record, so it
lands on stderr, in the log file and in pytest's ``caplog`` like every other
line. :class:`AuditTrail` also calls its ``listeners`` with each record: the
cloud stores its records with the command, the edge forwards its own to the
cloud. One trail per component (the demo runs a cloud and an edge in one
process; each has its own).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import structlog

from ems.timefmt import to_rfc3339_us

__all__ = ["AUDIT_LOGGER", "ActionRecord", "AuditEvent", "AuditTrail", "record_action"]

AUDIT_LOGGER = "ems.audit"
_stdlib = logging.getLogger(AUDIT_LOGGER)
_INFO = logging.INFO
_failures = logging.getLogger("ems.audit_trail")  # not "ems.audit": no loops


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One waypoint, as listeners see it."""

    event: str
    command_id: str
    user: str | None
    edge_id: str | None
    status: str | None
    reason: str | None
    detail: str | None
    at: float  # UTC epoch s of the waypoint (the component's clock)


_TEMPLATE = logging.LogRecord(AUDIT_LOGGER, _INFO, __file__, 0, "", None, None).__dict__


class _ToStdlib:
    """structlog's "logger": hands the finished record to the ``ems.audit`` handlers.

    The record carries the event dict (``ems_audit``) so formatters render it
    directly, and its fields as attributes (``record.command_id``) for tests.
    """

    def info(self, line: str, *, fields: dict[str, Any]) -> None:
        # A copy of a template instead of LogRecord(): its __init__ (pid, thread
        # and process names, relative time) costs more than the rest of the record.
        record = logging.LogRecord.__new__(logging.LogRecord)
        attributes = record.__dict__
        attributes.update(_TEMPLATE)
        attributes.update(fields)
        now = time.time()
        attributes["created"] = now
        attributes["msecs"] = (now - int(now)) * 1000.0
        attributes["msg"] = line
        attributes["ems_audit"] = fields
        _stdlib.handle(record)

    msg = info


def _finish(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> tuple[Any, ...]:
    """Final processor: the plain message for stdlib's ``getMessage`` and the fields."""
    if "command_id" in event_dict:
        message = f"command {event_dict.get('command_id')} {event_dict['event']}"
    else:
        message = f"{event_dict['event']} by {event_dict.get('user')}"
    return (message,), {"fields": event_dict}


_log = structlog.wrap_logger(
    _ToStdlib(),
    processors=[
        structlog.processors.add_log_level,
        _finish,
    ],
    wrapper_class=structlog.make_filtering_bound_logger(_INFO),
    context_class=dict,
).bind(logger=AUDIT_LOGGER)


class AuditTrail:
    """Writes audit records of one component (``source``: ``cloud`` or ``edge``)."""

    def __init__(self, source: str, *, edge_id: str | None = None) -> None:
        self.source = source
        self.edge_id = edge_id  # default ``edge_id`` of the records (an edge's own id)
        #: Called with every record, on the caller's thread; must not block or raise.
        self.listeners: list[Callable[[AuditEvent], None]] = []

    def record(
        self,
        event: str,
        command_id: str,
        at: float,
        *,
        user: str | None = None,
        edge_id: str | None = None,
        status: str | None = None,
        reason: str | None = None,
        detail: str | None = None,
        **fields: Any,
    ) -> None:
        """One waypoint; ``at`` [UTC epoch s] from the component's clock; ``fields`` extra keys."""
        edge = edge_id if edge_id is not None else self.edge_id
        if _stdlib.isEnabledFor(_INFO):
            _log.info(
                event,
                source=self.source,
                command_id=command_id,
                user=user,
                edge_id=edge,
                status=status,
                reason=reason,
                detail=detail,
                timestamp=to_rfc3339_us(at),
                **fields,
            )
        if self.listeners:
            waypoint = AuditEvent(event, command_id, user, edge, status, reason, detail, at)
            for listener in self.listeners:
                try:
                    listener(waypoint)
                except Exception:  # a listener's bug must not break the command path
                    _failures.exception("audit listener failed on %s", event)


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """A user's action that is not a command (DESIGN 8): a user, grant, membership or
    key changed, a configuration changed. ``before``/``after``: the changed fields
    (``None``: nothing before, i.e. created; nothing after, i.e. deleted)."""

    event: str  # <what>.<how>, e.g. "grant.added", "key.revoked"
    user: str  # who did it ("cli" for a shell)
    at: float  # UTC epoch s
    organisation: str | None = None
    edge_id: str | None = None
    target: str | None = None  # what it was done to: a username, a key id
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


#: Called with every :class:`ActionRecord`, on the caller's thread (the auth service
#: stores them for ``GET /api/audit``); must not raise.
action_listeners: list[Callable[[ActionRecord], None]] = []


def record_action(action: ActionRecord) -> None:
    """One user action, written as an audit record like a command's waypoints."""
    if _stdlib.isEnabledFor(_INFO):
        _log.info(
            action.event,
            source="auth",
            user=action.user,
            organisation=action.organisation,
            edge_id=action.edge_id,
            target=action.target,
            before=action.before,
            after=action.after,
            timestamp=to_rfc3339_us(action.at),
        )
    for listener in action_listeners:
        try:
            listener(action)
        except Exception:
            _failures.exception("audit listener failed on %s", action.event)
