"""The embedded alarm store: the same SQLite worker pattern as the command records."""

from __future__ import annotations

import json
from typing import Any

from ems.alarms import AlarmEvent
from ems.cloud.alarms import store
from ems.cloud.alarms.store import RuleChange, StoredEvent, StoredRule, event_row
from ems.cloud.migrations import sqlite_transaction
from ems.cloud.records.sql import render
from ems.cloud.sqlite_worker import SqliteWorker

__all__ = ["SQLITE_FILE", "SqliteAlarmStore"]

SQLITE_FILE = "alarms.sqlite3"

#: Schema steps; entry ``i`` upgrades version ``i`` to ``i + 1``. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE alarm_rules (
            rule_id TEXT PRIMARY KEY, edge_id TEXT NOT NULL, rule TEXT NOT NULL,
            updated_by TEXT NOT NULL, updated_at REAL NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE alarm_rule_changes (
            seq INTEGER PRIMARY KEY,
            rule_id TEXT NOT NULL, action TEXT NOT NULL, rule TEXT,
            by_user TEXT NOT NULL, at REAL NOT NULL
        )""",
        "CREATE INDEX alarm_rule_changes_rule ON alarm_rule_changes (rule_id, at)",
        """CREATE TABLE alarm_events (
            seq INTEGER PRIMARY KEY,
            alarm_id TEXT NOT NULL, edge_id TEXT NOT NULL, rule TEXT NOT NULL,
            severity TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,
            value TEXT NOT NULL, at REAL NOT NULL, by_user TEXT NOT NULL, note TEXT,
            UNIQUE (alarm_id, at, from_state, to_state)
        )""",
    ),
)

_UPSERT_RULE = render(store.UPSERT_RULE, "qmark")
_DELETE_RULE = render(store.DELETE_RULE, "qmark")
_SELECT_RULES = render(store.SELECT_RULES, "qmark")
_INSERT_CHANGE = render(store.INSERT_RULE_CHANGE, "qmark")
_SELECT_CHANGES = render(store.SELECT_RULE_CHANGES, "qmark")
_INSERT_EVENT = render(store.INSERT_EVENT, "qmark")
_SELECT_EVENTS = render(store.SELECT_EVENTS, "qmark")


class SqliteAlarmStore(SqliteWorker):
    component = "alarms"
    migrations = MIGRATIONS

    async def rules(self) -> list[StoredRule]:
        return await self._run(self._rules)

    async def change_rule(self, change: RuleChange) -> None:
        await self._run(self._change_rule, change)

    async def write_events(self, events: list[AlarmEvent]) -> None:
        if events:
            await self._run(self._write_events, events)

    async def events(self, alarm_id: str, limit: int) -> list[StoredEvent]:
        return await self._run(self._events, alarm_id, limit)

    async def rule_changes(self, rule_id: str) -> list[RuleChange]:
        return await self._run(self._rule_changes, rule_id)

    # -- on the worker thread -------------------------------------------------------
    def _rules(self) -> list[StoredRule]:
        rows = self._db().execute(_SELECT_RULES).fetchall()
        return [StoredRule(r, json.loads(rule), by, at) for r, rule, by, at in rows]

    def _change_rule(self, change: RuleChange) -> None:
        conn = self._db()
        text = None if change.rule is None else json.dumps(change.rule)
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            if change.rule is None:
                conn.execute(_DELETE_RULE, (change.rule_id,))
            else:
                edge_id: Any = change.rule["edge_id"]
                conn.execute(_UPSERT_RULE, (change.rule_id, edge_id, text, change.by, change.at_s))
            conn.execute(
                _INSERT_CHANGE, (change.rule_id, change.action, text, change.by, change.at_s)
            )

    def _write_events(self, events: list[AlarmEvent]) -> None:
        conn = self._db()
        with sqlite_transaction(conn, "BEGIN IMMEDIATE"):
            conn.executemany(_INSERT_EVENT, [event_row(e) for e in events])

    def _events(self, alarm_id: str, limit: int) -> list[StoredEvent]:
        rows = self._db().execute(_SELECT_EVENTS, (alarm_id, limit)).fetchall()
        return [_event(row) for row in rows]

    def _rule_changes(self, rule_id: str) -> list[RuleChange]:
        rows = self._db().execute(_SELECT_CHANGES, (rule_id,)).fetchall()
        return [
            RuleChange(r, action, None if rule is None else json.loads(rule), by, at)
            for r, action, rule, by, at in rows
        ]


def _event(row: tuple[Any, ...]) -> StoredEvent:
    alarm_id, edge, rule, severity, from_s, to_s, value, at, by, note = row
    return StoredEvent(
        alarm_id, edge, rule, severity, from_s, to_s, json.loads(value), at, by, note
    )
