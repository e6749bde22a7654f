"""Acknowledge and shelve in every state, shelve expiry, system alarms: on a virtual clock."""

from __future__ import annotations

import pytest

from ems.alarms import (
    AlarmBook,
    AlarmCommandRefused,
    AlarmEvaluator,
    AlarmRule,
    AlarmState,
    SystemAlarmKind,
)
from ems.clock import VirtualClock

EDGE = "site-1"
GRID = "grid/ActivePower"
ALARM = f"{EDGE}.rule.r1"
S = AlarmState


class Site:
    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.book = AlarmBook(self.clock, max_shelve_s=86_400)
        self.evaluator = AlarmEvaluator(self.book)
        self.evaluator.set_rule(
            "r1",
            AlarmRule(edge_id=EDGE, channel=GRID, operator=">", threshold=100, deadband=0),
        )

    def sample(self, value: float) -> None:
        self.clock.advance(1)
        self.evaluator.evaluate(EDGE, GRID, value, self.clock.time())

    def into(self, state: AlarmState) -> None:
        """Drive the alarm into ``state`` the way a site would."""
        if state is S.CLEARED:
            return
        self.sample(200)
        if state is S.ACTIVE_ACKED:
            self.book.acknowledge(ALARM, "bob")
        elif state is S.CLEARED_UNACKED:
            self.sample(0)
        elif state is S.SHELVED:
            self.book.shelve(ALARM, "bob", self.clock.time() + 600, "sensor being replaced")
        assert self.book.get(ALARM).state is state


@pytest.mark.parametrize(
    ("state", "after"),
    [
        (S.ACTIVE_UNACKED, S.ACTIVE_ACKED),
        (S.CLEARED_UNACKED, S.CLEARED),
        (S.ACTIVE_ACKED, "already_acknowledged"),
        (S.CLEARED, "already_acknowledged"),
        (S.SHELVED, "alarm_shelved"),
    ],
)
def test_acknowledge_in_each_state(state: AlarmState, after: AlarmState | str) -> None:
    site = Site()
    site.into(state)
    site.clock.advance(5)
    if isinstance(after, AlarmState):
        event = site.book.acknowledge(ALARM, "alice")
        assert (event.from_state, event.to_state) == (state, after)
        assert (event.by, event.at_s) == ("alice", site.clock.time())
        assert site.book.get(ALARM).acked_by == "alice"
    else:
        with pytest.raises(AlarmCommandRefused) as caught:
            site.book.acknowledge(ALARM, "alice")
        assert caught.value.reason == after
        assert site.book.get(ALARM).state is state  # a refusal changes nothing


def test_commands_on_an_unknown_alarm_are_refused_with_alarm_not_found() -> None:
    site = Site()
    for command in (
        lambda: site.book.acknowledge("site-1.rule.nope", "alice"),
        lambda: site.book.shelve("site-1.rule.nope", "alice", site.clock.time() + 60, "why"),
        lambda: site.book.unshelve("site-1.rule.nope", "alice"),
    ):
        with pytest.raises(AlarmCommandRefused) as caught:
            command()
        assert (caught.value.reason, caught.value.field) == ("alarm_not_found", "alarm_id")


@pytest.mark.parametrize(
    ("user", "until_in_s", "reason", "code", "field"),
    [
        ("alice", 600, "", "shelve_reason_required", "reason"),
        ("alice", 600, "   ", "shelve_reason_required", "reason"),
        ("alice", 600, "x" * 501, "shelve_reason_required", "reason"),
        ("alice", 0, "maintenance", "shelve_until_past", "until"),
        ("alice", -60, "maintenance", "shelve_until_past", "until"),
        ("alice", float("nan"), "maintenance", "shelve_until_past", "until"),
        ("alice", 86_401, "maintenance", "shelve_too_long", "until"),
        ("", 600, "maintenance", "user_required", "user"),
    ],
)
def test_a_bad_shelve_is_refused_with_a_stable_reason(
    user: str, until_in_s: float, reason: str, code: str, field: str
) -> None:
    site = Site()
    site.into(S.ACTIVE_UNACKED)
    with pytest.raises(AlarmCommandRefused) as caught:
        site.book.shelve(ALARM, user, site.clock.time() + until_in_s, reason)
    assert (caught.value.reason, caught.value.field) == (code, field)
    assert site.book.get(ALARM).state is S.ACTIVE_UNACKED


@pytest.mark.parametrize("state", [S.ACTIVE_UNACKED, S.ACTIVE_ACKED, S.CLEARED_UNACKED, S.CLEARED])
def test_any_state_can_be_shelved_and_who_when_why_are_recorded(state: AlarmState) -> None:
    site = Site()
    site.into(state)
    until_s = site.clock.time() + 3600
    event = site.book.shelve(ALARM, "alice", until_s, " inverter swap ")
    assert (event.from_state, event.to_state, event.by) == (state, S.SHELVED, "alice")
    assert (event.note, event.at_s) == ("inverter swap", site.clock.time())
    alarm = site.book.get(ALARM)
    assert (alarm.shelved_by, alarm.shelved_until_s) == ("alice", until_s)


def test_a_shelved_alarm_follows_its_condition_silently_and_expires_into_it() -> None:
    site = Site()
    site.into(S.SHELVED)  # active when shelved, until +600 s
    site.sample(0)
    site.sample(200)  # raised again while shelved: nothing annunciated
    assert site.book.get(ALARM).state is S.SHELVED
    until_s = site.book.get(ALARM).shelved_until_s
    assert until_s is not None
    site.clock.advance(until_s - site.clock.time() - 0.5)
    assert site.book.expire_shelves() == []  # half a second early
    site.clock.advance(0.5)
    (event,) = site.book.expire_shelves()
    assert (event.from_state, event.to_state) == (S.SHELVED, S.ACTIVE_UNACKED)
    assert (event.by, event.note, event.value) == ("system", "shelve_expired", 200)
    assert site.book.expire_shelves() == []


def test_a_shelve_that_expires_after_the_condition_went_away_lands_in_cleared() -> None:
    site = Site()
    site.into(S.SHELVED)
    site.sample(0)
    site.clock.advance(600)
    [event] = site.book.expire_shelves()
    assert event.to_state is S.CLEARED


def test_unshelve_by_hand_and_unshelve_of_an_alarm_not_shelved() -> None:
    site = Site()
    site.into(S.SHELVED)
    event = site.book.unshelve(ALARM, "carol")
    assert (event.to_state, event.by) == (S.ACTIVE_UNACKED, "carol")
    assert site.book.expire_shelves() == []  # nothing left to expire
    with pytest.raises(AlarmCommandRefused) as caught:
        site.book.unshelve(ALARM, "carol")
    assert caught.value.reason == "not_shelved"


def test_shelving_again_moves_the_expiry() -> None:
    site = Site()
    site.into(S.SHELVED)  # until +600
    site.book.shelve(ALARM, "alice", site.clock.time() + 1200, "longer job")
    site.clock.advance(600)
    assert site.book.expire_shelves() == []
    site.clock.advance(600)
    assert [e.to_state for e in site.book.expire_shelves()] == [S.ACTIVE_UNACKED]


def test_the_alarm_frame_has_design_14_fields() -> None:
    site = Site()
    site.sample(250)
    event = site.book.acknowledge(ALARM, "alice")
    assert event.as_frame() == {
        "type": "alarm",
        "alarm_id": ALARM,
        "edge_id": EDGE,
        "rule": "r1",
        "state": "active_acked",
        "severity": "medium",
        "value": 250,
        "at": "2026-01-01T00:00:01.000Z",
    }


def test_the_book_lists_alarms_by_edge_and_state() -> None:
    site = Site()
    site.into(S.ACTIVE_UNACKED)
    site.book.raise_system(SystemAlarmKind.EDGE_OFFLINE, "site-2")
    assert [a.alarm_id for a in site.book.alarms(edge_id=EDGE)] == [ALARM]
    assert [a.alarm_id for a in site.book.alarms(state=S.ACTIVE_UNACKED)] == [
        ALARM,
        "site-2.edge_offline",
    ]
    assert list(site.book.alarms(edge_id="site-2", state=S.CLEARED)) == []


@pytest.mark.parametrize(
    "kind",
    [
        SystemAlarmKind.EDGE_OFFLINE,
        SystemAlarmKind.EDGE_STALE,
        SystemAlarmKind.CLOCK_DRIFT,
        SystemAlarmKind.TELEMETRY_DROPPED,
    ],
)
def test_system_alarms_per_edge_raise_and_clear(kind: SystemAlarmKind) -> None:
    site = Site()
    raised = site.book.raise_system(kind, EDGE, value=3.5)
    assert raised is not None
    assert (raised.alarm_id, raised.rule, raised.to_state) == (
        f"{EDGE}.{kind}",
        kind.value,
        S.ACTIVE_UNACKED,
    )
    assert raised.at_s == site.clock.time()
    assert site.book.raise_system(kind, EDGE) is None  # already active: no second alarm
    site.clock.advance(30)
    cleared = site.book.clear_system(kind, EDGE, at_s=site.clock.time() - 10)
    assert cleared is not None
    assert (cleared.to_state, cleared.at_s) == (S.CLEARED_UNACKED, site.clock.time() - 10)


def test_system_alarm_device_rules_and_a_clear_of_one_never_raised() -> None:
    site = Site()
    with pytest.raises(AlarmCommandRefused) as caught:
        site.book.raise_system(SystemAlarmKind.DEVICE_COMMUNICATION_LOST, EDGE)
    assert (caught.value.reason, caught.value.field) == ("device_required", "device")
    with pytest.raises(AlarmCommandRefused) as caught:
        site.book.raise_system(SystemAlarmKind.DEVICE_COMMUNICATION_LOST, EDGE, device="Bad/Id")
    assert caught.value.reason == "device_required"
    with pytest.raises(AlarmCommandRefused) as caught:
        site.book.raise_system(SystemAlarmKind.EDGE_OFFLINE, EDGE, device="battery_1")
    assert caught.value.reason == "device_not_allowed"
    assert site.book.clear_system(SystemAlarmKind.EDGE_STALE, EDGE) is None
    assert list(site.book.alarms(edge_id=EDGE)) == [site.book.get(ALARM)]


def test_every_transition_names_who_and_when() -> None:
    site = Site()
    events = []
    site.clock.advance(1)
    events += site.evaluator.evaluate(EDGE, GRID, 200, site.clock.time())
    site.clock.advance(60)
    events.append(site.book.acknowledge(ALARM, "alice"))
    site.clock.advance(60)
    events.append(site.book.shelve(ALARM, "bob", site.clock.time() + 60, "noisy"))
    site.clock.advance(60)
    events += site.book.expire_shelves()
    t0 = site.clock.time() - 180
    assert [(e.to_state.value, e.by, e.at_s - t0) for e in events] == [
        ("active_unacked", "system", 0),
        ("active_acked", "alice", 60),
        ("shelved", "bob", 120),
        ("active_unacked", "system", 180),
    ]
