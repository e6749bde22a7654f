"""Durable alarm data: the rules, every change to them, and every alarm transition.

Beside the command records (same ``EMS_DATABASE_URL``, SQLite in the data
directory by default). The *current* state of each alarm lives in Redis
(:mod:`ems.cloud.alarms.shared_state`), where transitions are applied
atomically; the database keeps the history: who did what, when.

The SQL is spelled once here; placeholders ``{pN}`` become ``?N`` or ``$N``
(:func:`ems.cloud.records.sql.render`). An event stored twice (a retry after a
commit in doubt) is one row: ``(alarm_id, at, from_state, to_state)`` is unique.
Rows are read in the order they were written (``seq``), the order in which the
compare-and-set in Redis let the transitions happen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from ems.alarms import AlarmEvent
from ems.timefmt import to_rfc3339

__all__ = [
    "AlarmStore",
    "RuleChange",
    "StoredEvent",
    "StoredRule",
    "event_row",
]


@dataclass(frozen=True, slots=True)
class StoredRule:
    rule_id: str
    rule: dict[str, Any]  # DESIGN 14's JSON fields, as validated by ``parse_rule``
    updated_by: str
    updated_at_s: float


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One audited change of a rule: ``action`` ``created``, ``updated`` or ``deleted``."""

    rule_id: str
    action: str
    rule: dict[str, Any] | None  # None: deleted
    by: str
    at_s: float


@dataclass(frozen=True, slots=True)
class StoredEvent:
    alarm_id: str
    edge_id: str
    rule: str
    severity: str
    from_state: str
    to_state: str
    value: object
    at_s: float
    by: str
    note: str | None

    def to_api(self) -> dict[str, Any]:
        return {
            "alarm_id": self.alarm_id,
            "edge_id": self.edge_id,
            "rule": self.rule,
            "severity": self.severity,
            "from": self.from_state,
            "to": self.to_state,
            "value": self.value,
            "at": to_rfc3339(self.at_s),
            "by": self.by,
            "note": self.note,
        }


class AlarmStore(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def rules(self) -> list[StoredRule]: ...

    async def change_rule(self, change: RuleChange) -> None:
        """Upsert (or delete) the rule and append the change, in one transaction."""
        ...

    async def write_events(self, events: list[AlarmEvent]) -> None: ...

    async def events(self, alarm_id: str, limit: int) -> list[StoredEvent]:
        """The alarm's transitions, oldest first (the last ``limit``)."""
        ...

    async def rule_changes(self, rule_id: str) -> list[RuleChange]: ...


def event_row(e: AlarmEvent) -> tuple[object, ...]:
    return (
        e.alarm_id,
        e.edge_id,
        e.rule,
        e.severity.value,
        e.from_state.value,
        e.to_state.value,
        json.dumps(e.value),
        e.at_s,
        e.by,
        e.note,
    )


UPSERT_RULE = """INSERT INTO alarm_rules (rule_id, edge_id, rule, updated_by, updated_at)
VALUES ({p1}, {p2}, {p3}, {p4}, {p5})
ON CONFLICT (rule_id) DO UPDATE SET edge_id = excluded.edge_id, rule = excluded.rule,
    updated_by = excluded.updated_by, updated_at = excluded.updated_at"""

DELETE_RULE = "DELETE FROM alarm_rules WHERE rule_id = {p1}"

SELECT_RULES = "SELECT rule_id, rule, updated_by, updated_at FROM alarm_rules ORDER BY rule_id"

INSERT_RULE_CHANGE = """INSERT INTO alarm_rule_changes (rule_id, action, rule, by_user, at)
VALUES ({p1}, {p2}, {p3}, {p4}, {p5})"""

SELECT_RULE_CHANGES = """SELECT rule_id, action, rule, by_user, at FROM alarm_rule_changes
WHERE rule_id = {p1} ORDER BY seq"""

INSERT_EVENT = """INSERT INTO alarm_events
    (alarm_id, edge_id, rule, severity, from_state, to_state, value, at, by_user, note)
VALUES ({p1}, {p2}, {p3}, {p4}, {p5}, {p6}, {p7}, {p8}, {p9}, {p10})
ON CONFLICT (alarm_id, at, from_state, to_state) DO NOTHING"""

SELECT_EVENTS = """SELECT alarm_id, edge_id, rule, severity, from_state, to_state, value, at,
    by_user, note
FROM (SELECT * FROM alarm_events WHERE alarm_id = {p1} ORDER BY seq DESC LIMIT {p2}) AS last
ORDER BY seq"""
