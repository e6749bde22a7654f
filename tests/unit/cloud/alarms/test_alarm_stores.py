"""The alarm store on both backends: SQLite (embedded) and PostgreSQL (real server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ems.alarms import AlarmEvent, AlarmState, Severity
from ems.cloud.alarms import AlarmStore, PostgresAlarmStore, SqliteAlarmStore
from ems.cloud.alarms.store import RuleChange


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AlarmStore]:
    made: AlarmStore
    if request.param == "sqlite":
        made = SqliteAlarmStore(tmp_path / "alarms.sqlite3")
    else:
        made = PostgresAlarmStore(request.getfixturevalue("postgres_url"))
    await made.start()
    await made.start()  # idempotent: a second process starting on the same schema
    try:
        yield made
    finally:
        await made.close()


def _event(alarm_id: str, to: AlarmState, at_s: float, by: str = "system") -> AlarmEvent:
    return AlarmEvent(
        alarm_id, "site-1", "r1", Severity.HIGH, AlarmState.CLEARED, to, 4.5, at_s, by, None
    )


@pytest.mark.asyncio
async def test_rules_and_their_changes(store: AlarmStore) -> None:
    rule_id = f"r-{uuid.uuid4().hex[:8]}"  # PostgreSQL is shared by the session
    rule = {"edge_id": "site-1", "channel": "battery_1/Soc", "operator": "<", "threshold": 10}
    await store.change_rule(RuleChange(rule_id, "created", rule, "ada", 100.0))
    await store.change_rule(RuleChange(rule_id, "updated", {**rule, "threshold": 12}, "bob", 100.0))
    [stored] = [r for r in await store.rules() if r.rule_id == rule_id]
    assert (stored.rule["threshold"], stored.updated_by) == (12, "bob")
    await store.change_rule(RuleChange(rule_id, "deleted", None, "ada", 101.0))
    assert rule_id not in [r.rule_id for r in await store.rules()]
    changes = await store.rule_changes(rule_id)
    assert [(c.action, c.by, c.rule and c.rule["threshold"]) for c in changes] == [
        ("created", "ada", 10),
        ("updated", "bob", 12),
        ("deleted", "ada", None),
    ]


@pytest.mark.asyncio
async def test_events_in_order_and_a_retry_stored_once(store: AlarmStore) -> None:
    alarm_id = f"site-1.rule.{uuid.uuid4().hex[:8]}"
    raised = _event(alarm_id, AlarmState.ACTIVE_UNACKED, 200.0)
    await store.write_events([raised])
    await store.write_events([raised])  # a commit in doubt, written again
    await store.write_events([_event(alarm_id, AlarmState.ACTIVE_ACKED, 200.0, "olga")])
    events = await store.events(alarm_id, 10)
    assert [(e.to_state, e.by, e.value) for e in events] == [
        ("active_unacked", "system", 4.5),
        ("active_acked", "olga", 4.5),
    ]
    assert [e.to_state for e in await store.events(alarm_id, 1)] == ["active_acked"]
