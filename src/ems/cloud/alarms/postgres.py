"""The production alarm store: PostgreSQL through asyncpg, beside the command records.

Schema made like theirs (:mod:`ems.cloud.records.postgres`): under the shared
advisory lock, versioned in ``schema_version`` as the component ``alarms``.
Times are ``double precision`` UTC epoch seconds, as the events carry them.
"""

from __future__ import annotations

import json
from typing import Any

from ems.alarms import AlarmEvent
from ems.cloud.alarms import store
from ems.cloud.alarms.store import RuleChange, StoredEvent, StoredRule, event_row
from ems.cloud.pg_store import PostgresComponentStore
from ems.cloud.records.sql import render

__all__ = ["PostgresAlarmStore"]

COMPONENT = "alarms"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE alarm_rules (
            rule_id text COLLATE "C" PRIMARY KEY, edge_id text COLLATE "C" NOT NULL,
            rule text NOT NULL, updated_by text NOT NULL, updated_at double precision NOT NULL)""",
        """CREATE TABLE alarm_rule_changes (
            seq bigserial PRIMARY KEY,
            rule_id text COLLATE "C" NOT NULL, action text NOT NULL, rule text,
            by_user text NOT NULL, at double precision NOT NULL)""",
        "CREATE INDEX alarm_rule_changes_rule ON alarm_rule_changes (rule_id, at)",
        """CREATE TABLE alarm_events (
            seq bigserial PRIMARY KEY,
            alarm_id text COLLATE "C" NOT NULL, edge_id text COLLATE "C" NOT NULL,
            rule text NOT NULL, severity text NOT NULL, from_state text NOT NULL,
            to_state text NOT NULL, value text NOT NULL, at double precision NOT NULL,
            by_user text NOT NULL, note text,
            UNIQUE (alarm_id, at, from_state, to_state))""",
    ),
)

_UPSERT_RULE = render(store.UPSERT_RULE, "dollar")
_DELETE_RULE = render(store.DELETE_RULE, "dollar")
_SELECT_RULES = render(store.SELECT_RULES, "dollar")
_INSERT_CHANGE = render(store.INSERT_RULE_CHANGE, "dollar")
_SELECT_CHANGES = render(store.SELECT_RULE_CHANGES, "dollar")
_INSERT_EVENT = render(store.INSERT_EVENT, "dollar")
_SELECT_EVENTS = render(store.SELECT_EVENTS, "dollar")


class PostgresAlarmStore(PostgresComponentStore):
    component = COMPONENT
    migrations = MIGRATIONS
    what = "alarm"

    async def rules(self) -> list[StoredRule]:
        rows = await self._require_pool().fetch(_SELECT_RULES)
        return [StoredRule(r, json.loads(rule), by, at) for r, rule, by, at in rows]

    async def change_rule(self, change: RuleChange) -> None:
        text = None if change.rule is None else json.dumps(change.rule)
        async with self._require_pool().acquire() as conn, conn.transaction():
            if change.rule is None:
                await conn.execute(_DELETE_RULE, change.rule_id)
            else:
                edge_id: Any = change.rule["edge_id"]
                await conn.execute(
                    _UPSERT_RULE, change.rule_id, edge_id, text, change.by, change.at_s
                )
            await conn.execute(
                _INSERT_CHANGE, change.rule_id, change.action, text, change.by, change.at_s
            )

    async def write_events(self, events: list[AlarmEvent]) -> None:
        if events:
            async with self._require_pool().acquire() as conn, conn.transaction():
                await conn.executemany(_INSERT_EVENT, [event_row(e) for e in events])

    async def events(self, alarm_id: str, limit: int) -> list[StoredEvent]:
        rows = await self._require_pool().fetch(_SELECT_EVENTS, alarm_id, limit)
        return [
            StoredEvent(a, e, r, s, f, t, json.loads(v), at, by, note)
            for a, e, r, s, f, t, v, at, by, note in rows
        ]

    async def rule_changes(self, rule_id: str) -> list[RuleChange]:
        rows = await self._require_pool().fetch(_SELECT_CHANGES, rule_id)
        return [
            RuleChange(r, action, None if rule is None else json.loads(rule), by, at)
            for r, action, rule, by, at in rows
        ]
