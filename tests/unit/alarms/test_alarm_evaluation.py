"""Rule evaluation as sample tables on a virtual clock: for_s, deadband, indexing, watches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ems.alarms import (
    Alarm,
    AlarmBook,
    AlarmEvaluator,
    AlarmEvent,
    AlarmRule,
    AlarmState,
    InvalidRule,
    Severity,
)
from ems.clock import VirtualClock
from ems.protocol.frames import ChannelSample

EDGE = "site-1"
SOC = "battery_1/Soc"
GRID = "grid/ActivePower"
ACTIVE = AlarmState.ACTIVE_UNACKED


def rule(**overrides: Any) -> AlarmRule:
    fields: dict[str, Any] = {
        "edge_id": EDGE,
        "channel": GRID,
        "operator": ">",
        "threshold": 5000,
        "for_s": 10,
        "deadband": 500,
        "severity": "high",
    }
    fields.update(overrides)
    return AlarmRule.model_validate(fields)


class Site:
    """One edge's samples, one second apart on a virtual clock."""

    def __init__(self, *rules: AlarmRule) -> None:
        self.clock = VirtualClock()
        self.book = AlarmBook(self.clock)
        self.evaluator = AlarmEvaluator(self.book)
        for i, r in enumerate(rules, start=1):
            assert self.evaluator.set_rule(f"r{i}", r) == []

    def step(self, value: object, channel: str = GRID, dt_s: float = 1.0) -> list[AlarmEvent]:
        self.clock.advance(dt_s)
        return self.evaluator.evaluate(EDGE, channel, value, self.clock.time())

    def run(self, values: list[object], channel: str = GRID) -> list[tuple[int, str]]:
        """Feed ``values`` (1 s apart); the (sample index, new state) of each transition."""
        return [(i, e.to_state.value) for i, v in enumerate(values) for e in self.step(v, channel)]

    def state(self, rule_id: str = "r1") -> AlarmState:
        return self.book.get(f"{EDGE}.rule.{rule_id}").state


def test_a_spike_shorter_than_for_s_raises_nothing() -> None:
    site = Site(rule(for_s=10))
    # over the threshold for 10 samples = 9 s, then back: the wait starts over
    assert site.run([6000] * 10 + [4000] + [6000] * 10) == []
    assert site.state() is AlarmState.CLEARED


def test_a_condition_held_for_for_s_raises_once_at_the_sample_that_completes_it() -> None:
    site = Site(rule(for_s=10))
    t0 = site.clock.time()
    site.clock.advance(0)
    events = [e for _ in range(30) for e in site.step(6000)]
    assert len(events) == 1
    (event,) = events
    # first sample over at t0+1, active 10 s later
    assert (event.from_state, event.to_state) == (AlarmState.CLEARED, ACTIVE)
    assert event.at_s == t0 + 11
    assert (event.value, event.by, event.severity) == (6000, "system", Severity.HIGH)


def test_a_value_at_the_threshold_is_not_over_it() -> None:
    site = Site(rule(for_s=0))
    assert site.run([5000, 5000]) == []
    assert site.run([5000.5]) == [(0, "active_unacked")]


def test_for_s_zero_raises_on_the_first_sample_over() -> None:
    assert Site(rule(for_s=0)).run([1000, 5001]) == [(1, "active_unacked")]


def test_no_clear_until_past_the_threshold_minus_the_deadband() -> None:
    site = Site(rule(for_s=0, deadband=500))
    table = [6000, 4900, 4600, 4500, 5200, 4499, 4000]
    assert site.run(table) == [(0, "active_unacked"), (5, "cleared_unacked")]


def test_a_below_rule_mirrors_threshold_and_deadband() -> None:
    site = Site(rule(channel=SOC, operator="<", threshold=10, deadband=5, for_s=2))
    table = [20, 9, 8, 7, 12, 14.9, 15.1]
    assert site.run(table, channel=SOC) == [(3, "active_unacked"), (6, "cleared_unacked")]


def test_an_acknowledged_alarm_clears_to_cleared() -> None:
    site = Site(rule(for_s=0))
    site.run([6000])
    site.book.acknowledge(f"{EDGE}.rule.r1", "alice")
    assert site.run([4000]) == [(0, "cleared")]


def test_a_cleared_unacked_alarm_raised_again_is_active_unacked_again() -> None:
    site = Site(rule(for_s=0, deadband=0))
    assert site.run([6000, 4000, 6000]) == [
        (0, "active_unacked"),
        (1, "cleared_unacked"),
        (2, "active_unacked"),
    ]


def test_readings_that_are_not_numbers_change_nothing() -> None:
    site = Site(rule(for_s=0))
    assert site.run([None, "6000", True, float("nan"), float("inf")]) == []
    site.run([6000])
    assert site.run([None, False, float("nan")]) == []
    assert site.state() is ACTIVE


def test_an_older_sample_than_the_last_one_is_ignored() -> None:
    site = Site(rule(for_s=0))
    site.step(6000)
    late = site.clock.time() - 5
    assert site.evaluator.evaluate(EDGE, GRID, 0, late) == []
    assert site.state() is ACTIVE


def test_samples_of_other_channels_and_other_edges_raise_nothing() -> None:
    site = Site(rule(for_s=0))
    now = site.clock.time()
    assert site.evaluator.evaluate(EDGE, SOC, 1e9, now) == []
    assert site.evaluator.evaluate("site-2", GRID, 1e9, now) == []
    assert site.state() is AlarmState.CLEARED


def test_two_rules_on_one_channel_are_both_evaluated() -> None:
    site = Site(rule(threshold=5000, for_s=0), rule(threshold=8000, for_s=0, severity="critical"))
    events = site.step(9000)
    assert [(e.rule, e.severity) for e in events] == [
        ("r1", Severity.HIGH),
        ("r2", Severity.CRITICAL),
    ]


def test_a_frame_is_evaluated_channel_by_channel_with_each_samples_time() -> None:
    site = Site(rule(for_s=0), rule(channel=SOC, operator="<", threshold=10, for_s=0))
    t = datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)
    frame = {
        GRID: ChannelSample(v=7000.0, t=t),
        SOC: ChannelSample(v=5, t=t),
        "pv_1/ActivePower": ChannelSample(v=1e9, t=t),
    }
    events = site.evaluator.evaluate_frame(EDGE, frame)
    assert [(e.alarm_id, e.to_state.value, e.at_s) for e in events] == [
        (f"{EDGE}.rule.r1", "active_unacked", t.timestamp()),
        (f"{EDGE}.rule.r2", "active_unacked", t.timestamp()),
    ]
    assert site.evaluator.evaluate_frame("site-9", frame) == []


def test_the_same_rules_on_two_evaluators_name_the_same_alarm() -> None:
    # What lets two cloud processes agree on one alarm per rule and edge.
    a, b = Site(rule(for_s=0)), Site(rule(for_s=0))
    assert [e.alarm_id for e in a.step(6000)] == [e.alarm_id for e in b.step(6000)]


def test_replacing_a_rule_keeps_its_alarm_and_the_new_numbers_decide() -> None:
    site = Site(rule(for_s=0))
    site.run([6000])
    assert site.evaluator.set_rule("r1", rule(for_s=0, threshold=7000, deadband=0)) == []
    assert site.state() is ACTIVE
    assert site.run([6500]) == [(0, "cleared_unacked")]


def test_replacing_a_rule_with_one_on_another_channel_retires_its_alarm() -> None:
    site = Site(rule(for_s=0))
    site.run([6000])
    events = site.evaluator.set_rule("r1", rule(channel=SOC, operator="<", threshold=10))
    assert [(e.to_state, e.note) for e in events] == [(AlarmState.CLEARED, "rule_deleted")]
    assert site.run([9000]) == []  # the old channel no longer counts
    assert site.run([5], channel=SOC) == []  # for_s 10 still to wait on the new one


def test_removing_a_rule_ends_its_alarm_and_its_evaluation() -> None:
    site = Site(rule(for_s=0))
    site.run([6000])
    events = site.evaluator.remove_rule("r1")
    assert [(e.from_state, e.to_state, e.by) for e in events] == [
        (ACTIVE, AlarmState.CLEARED, "system")
    ]
    assert site.run([9000]) == []
    assert list(site.book.alarms()) == []
    with pytest.raises(InvalidRule) as caught:
        site.evaluator.remove_rule("r1")
    assert (caught.value.reason, caught.value.field) == ("unknown_rule", "rule_id")


def test_removing_a_cleared_rule_leaves_no_event() -> None:
    site = Site(rule())
    assert site.evaluator.remove_rule("r1") == []
    assert site.evaluator.rules() == {}


def test_communication_failed_of_a_watched_device_raises_and_clears_a_system_alarm() -> None:
    site = Site()
    site.evaluator.watch_devices(EDGE, ["battery_1", "pv_1"])
    channel = "battery_1/CommunicationFailed"
    assert site.run([False, True, True, False], channel=channel) == [
        (1, "active_unacked"),
        (3, "cleared_unacked"),
    ]
    alarm = site.book.get(f"{EDGE}.device_communication_lost.battery_1")
    assert (alarm.rule, alarm.severity) == ("device_communication_lost", Severity.HIGH)
    # an unwatched device, and a device no longer in the inventory, are not followed
    assert site.run([True], channel="grid/CommunicationFailed") == []
    site.evaluator.watch_devices(EDGE, ["battery_1"])
    assert site.run([True], channel="pv_1/CommunicationFailed") == []
    assert site.run([True], channel=channel) == [(0, "active_unacked")]
    site.evaluator.watch_devices(EDGE, [])
    assert site.run([False], channel=channel) == []


def test_a_bad_rule_id_is_refused_and_evaluation_goes_on() -> None:
    site = Site(rule(for_s=0))
    with pytest.raises(InvalidRule) as caught:
        site.evaluator.set_rule("bad/id", rule())
    assert caught.value.field == "rule_id"
    assert site.run([6000]) == [(0, "active_unacked")]


def test_an_alarm_restored_active_is_not_raised_again_and_clears_by_its_rule() -> None:
    # A process starting (or taking an edge over) loads the stored alarms first.
    site = Site()
    stored = Alarm(
        f"{EDGE}.rule.r1", EDGE, "r1", Severity.HIGH, state=ACTIVE, condition=True, value=7000
    )
    site.book.restore(stored)
    site.evaluator.set_rule("r1", rule(for_s=0))
    assert site.run([7000, 6000]) == []
    assert site.run([4000]) == [(0, "cleared_unacked")]


def test_a_restored_communication_loss_clears_on_the_next_false() -> None:
    site = Site()
    alarm_id = f"{EDGE}.device_communication_lost.pv_1"
    site.book.restore(
        Alarm(alarm_id, EDGE, "device_communication_lost", Severity.HIGH, ACTIVE, True, True)
    )
    site.evaluator.watch_devices(EDGE, ["pv_1"])
    channel = "pv_1/CommunicationFailed"
    assert site.run([False], channel=channel) == [(0, "cleared_unacked")]


def test_a_restored_shelved_alarm_expires_on_time() -> None:
    site = Site()
    until_s = site.clock.time() + 60
    site.book.restore(
        Alarm(
            f"{EDGE}.edge_offline",
            EDGE,
            "edge_offline",
            Severity.HIGH,
            AlarmState.SHELVED,
            condition=False,
            shelved_by="alice",
            shelved_until_s=until_s,
            shelve_reason="planned outage",
        )
    )
    site.clock.advance(60)
    assert [e.to_state for e in site.book.expire_shelves()] == [AlarmState.CLEARED]
