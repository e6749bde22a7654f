"""An alarm's ISA-18.2 state, its record, and the event each transition leaves.

::

              condition               ack
    cleared ───────────► active_unacked ───► active_acked
       ▲  ▲                 │    ▲                │
       │  │      back to    │    │ condition      │ back to normal
       │  │      normal     ▼    │ again          │
       │  └──── ack ──── cleared_unacked          │
       └──────────────────────────────────────────┘

    any state ── shelve ──► shelved ── unshelve / expiry ──► active_unacked
                                                             (condition still on)
                                                             or cleared

While shelved the condition is still followed (so that unshelving lands in the
right state), but nothing is annunciated and no event is recorded for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ems.alarms.rules import Severity
from ems.timefmt import to_rfc3339

__all__ = ["SYSTEM_USER", "Alarm", "AlarmEvent", "AlarmState"]

#: ``by`` of the transitions nobody commanded (the condition, an expiry).
SYSTEM_USER = "system"


class AlarmState(StrEnum):
    ACTIVE_UNACKED = "active_unacked"
    ACTIVE_ACKED = "active_acked"
    CLEARED_UNACKED = "cleared_unacked"  # returned to normal before anyone acknowledged
    CLEARED = "cleared"  # normal
    SHELVED = "shelved"  # suppressed until ``shelved_until_s``


@dataclass(slots=True)
class Alarm:
    """One alarm: per rule (its edge is the rule's), or per system kind, edge and device.

    ``alarm_id`` is derived from what the alarm is about, never random, so that
    every cloud process evaluating the same edge names the same alarm.
    """

    alarm_id: str
    edge_id: str
    rule: str  # the rule id, or the system alarm kind
    severity: Severity
    state: AlarmState = AlarmState.CLEARED
    condition: bool = False  # the process condition, followed also while shelved
    value: float | bool | None = None  # the value at the last transition
    since_s: float | None = None  # when the current state was entered [UTC epoch s]
    acked_by: str | None = None
    shelved_by: str | None = None
    shelved_until_s: float | None = None
    shelve_reason: str | None = None

    @property
    def unacked(self) -> bool:
        return self.state in (AlarmState.ACTIVE_UNACKED, AlarmState.CLEARED_UNACKED)


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One transition: what changed, when, and who caused it (``system`` for the condition)."""

    alarm_id: str
    edge_id: str
    rule: str
    severity: Severity
    from_state: AlarmState
    to_state: AlarmState
    value: float | bool | None
    at_s: float  # UTC epoch seconds
    by: str
    note: str | None = None  # the shelving reason, or why the system moved it

    def as_frame(self) -> dict[str, Any]:
        """DESIGN 14's ``/ws/ui`` ``alarm`` frame."""
        return {
            "type": "alarm",
            "alarm_id": self.alarm_id,
            "edge_id": self.edge_id,
            "rule": self.rule,
            "state": self.to_state.value,
            "severity": self.severity.value,
            "value": self.value,
            "at": to_rfc3339(self.at_s),
        }
