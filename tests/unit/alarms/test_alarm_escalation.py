"""Escalation timing: when an unacknowledged alarm goes to the next role up."""

from __future__ import annotations

import pytest

from ems.alarms import (
    AlarmBook,
    AlarmState,
    Escalation,
    EscalationPolicy,
    SystemAlarmKind,
    escalations_due,
)
from ems.clock import VirtualClock

EDGE = "site-1"
ID = f"{EDGE}.edge_offline"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def book(clock: VirtualClock) -> AlarmBook:
    return AlarmBook(clock)


def test_an_unacked_alarm_escalates_after_escalate_after_s(
    clock: VirtualClock, book: AlarmBook
) -> None:
    policy = EscalationPolicy(escalate_after_s=900)
    raised_s = clock.time()
    book.raise_system(SystemAlarmKind.EDGE_OFFLINE, EDGE)
    alarm = book.get(ID)
    assert policy.due_at_s(alarm, 1) == raised_s + 900
    assert policy.level_at(alarm, clock.time()) == 0
    assert escalations_due(policy, book.alarms(), clock.time(), {}) == []
    clock.advance(899.9)
    assert escalations_due(policy, book.alarms(), clock.time(), {}) == []
    clock.advance(0.1)
    assert escalations_due(policy, book.alarms(), clock.time(), {}) == [
        Escalation(ID, 1, "admin", raised_s + 900)
    ]
    # sent (recorded by the caller): not due again, and there is no role above admin
    clock.advance(10_000)
    assert escalations_due(policy, book.alarms(), clock.time(), {ID: 1}) == []
    assert policy.level_at(alarm, clock.time()) == 1
    assert policy.due_at_s(alarm, 2) is None


def test_each_role_in_turn_one_escalate_after_s_apart(clock: VirtualClock, book: AlarmBook) -> None:
    policy = EscalationPolicy(escalate_after_s=60, roles=("operator", "admin", "owner"))
    raised_s = clock.time()
    book.raise_system(SystemAlarmKind.EDGE_OFFLINE, EDGE)
    seen = []
    notified: dict[str, int] = {}
    for _ in range(300):  # a timer every second
        clock.advance(1)
        for escalation in escalations_due(policy, book.alarms(), clock.time(), notified):
            notified[escalation.alarm_id] = escalation.level
            seen.append((escalation.role, escalation.due_at_s - raised_s, clock.time() - raised_s))
    assert seen == [("admin", 60, 60), ("owner", 120, 120)]


def test_acknowledging_stops_the_escalation(clock: VirtualClock, book: AlarmBook) -> None:
    policy = EscalationPolicy(escalate_after_s=60)
    book.raise_system(SystemAlarmKind.EDGE_OFFLINE, EDGE)
    clock.advance(59)
    book.acknowledge(ID, "alice")
    clock.advance(3600)
    assert escalations_due(policy, book.alarms(), clock.time(), {}) == []
    assert policy.due_at_s(book.get(ID), 1) is None


def test_an_alarm_back_to_normal_unacknowledged_does_not_escalate(
    clock: VirtualClock, book: AlarmBook
) -> None:
    policy = EscalationPolicy(escalate_after_s=60)
    book.raise_system(SystemAlarmKind.EDGE_OFFLINE, EDGE)
    clock.advance(30)
    book.clear_system(SystemAlarmKind.EDGE_OFFLINE, EDGE)
    assert book.get(ID).state is AlarmState.CLEARED_UNACKED
    clock.advance(3600)
    assert escalations_due(policy, book.alarms(), clock.time(), {}) == []


def test_raised_again_the_escalation_starts_over(clock: VirtualClock, book: AlarmBook) -> None:
    policy = EscalationPolicy(escalate_after_s=60)
    book.raise_system(SystemAlarmKind.EDGE_OFFLINE, EDGE)
    clock.advance(50)
    book.clear_system(SystemAlarmKind.EDGE_OFFLINE, EDGE)
    clock.advance(50)
    book.raise_system(SystemAlarmKind.EDGE_OFFLINE, EDGE)
    again_s = clock.time()
    clock.advance(59)
    assert escalations_due(policy, book.alarms(), clock.time(), {}) == []
    clock.advance(1)
    [escalation] = escalations_due(policy, book.alarms(), clock.time(), {})
    assert escalation.due_at_s == again_s + 60


def test_a_shelved_alarm_does_not_escalate_and_unshelved_it_starts_over(
    clock: VirtualClock, book: AlarmBook
) -> None:
    policy = EscalationPolicy(escalate_after_s=60)
    book.raise_system(SystemAlarmKind.EDGE_OFFLINE, EDGE)
    book.shelve(ID, "alice", clock.time() + 600, "known outage")
    clock.advance(600)
    assert escalations_due(policy, book.alarms(), clock.time(), {}) == []
    book.expire_shelves()
    assert policy.due_at_s(book.get(ID), 1) == clock.time() + 60


@pytest.mark.parametrize("after_s", [0, -1, float("nan"), float("inf")])
def test_a_bad_escalation_delay_is_refused(after_s: float) -> None:
    with pytest.raises(ValueError, match="escalate_after_s"):
        EscalationPolicy(escalate_after_s=after_s)


def test_an_escalation_policy_needs_a_role() -> None:
    with pytest.raises(ValueError, match="roles"):
        EscalationPolicy(escalate_after_s=60, roles=())
