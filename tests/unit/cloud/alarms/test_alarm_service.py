"""The alarm service on a real Redis: two processes, one alarm; commands; rules; upkeep."""

from __future__ import annotations

import json
import logging

import pytest
from alarm_cloud import Cloud, frame

from ems.alarms import AlarmCommandRefused, AlarmState, InvalidRule
from ems.protocol import CLOUD_TO_UI, UiAlarm

RULE = {
    "edge_id": "site-1",
    "channel": "battery_1/Soc",
    "operator": "<",
    "threshold": 10,
    "for_s": 30,
    "deadband": 5,
    "severity": "high",
}
ALARM = "site-1.rule.low-soc"


async def settle(cloud: Cloud) -> None:
    for _ in range(2):  # a refresh may queue a commit, a commit may publish a refresh
        for service in cloud.services:
            await service.settle()


@pytest.mark.asyncio
async def test_two_processes_evaluating_one_edge_raise_one_alarm(cloud: Cloud) -> None:
    a, b = await cloud.process(), await cloud.process()
    await a.put_rule("low-soc", RULE, "ada", create=True)
    await settle(cloud)
    assert set(b.rules()) == {"low-soc"}  # loaded on B through the bus

    # Both see the same frames (the edge moved between them mid-way).
    for _ in range(4):  # 0, 15, 30, 45 s below the threshold: raised at 30 s
        for service in (a, b):
            service.frame("site-1", frame(cloud.clock, battery_1__Soc=4.0))
        cloud.clock.advance(15)
    await settle(cloud)

    assert a.committed + b.committed == 1
    assert [(f["alarm_id"], f["state"]) for f in cloud.frames] == [(ALARM, "active_unacked")]
    stored = await a.shared.get(ALARM)
    assert stored is not None and stored.state is AlarmState.ACTIVE_UNACKED
    history = await a.store.events(ALARM, 10)
    assert [(e.from_state, e.to_state, e.by) for e in history] == [
        ("cleared", "active_unacked", "system")
    ]
    assert cloud.mailed.calls == [(ALARM, "operator", 0, 0)]  # one mail, not two


@pytest.mark.asyncio
async def test_ack_on_one_process_is_taken_by_the_evaluating_one(
    cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "ems.audit.alarms")
    evaluating, api = await cloud.process(), await cloud.process()
    await api.put_rule("low-soc", dict(RULE, for_s=0), "ada", create=True)
    await settle(cloud)
    evaluating.frame("site-1", frame(cloud.clock, battery_1__Soc=4.0))
    await settle(cloud)

    event = await api.acknowledge(ALARM, "olga")
    assert (event.from_state, event.to_state, event.by) == (
        AlarmState.ACTIVE_UNACKED,
        AlarmState.ACTIVE_ACKED,
        "olga",
    )
    await settle(cloud)
    cloud.clock.advance(1)
    evaluating.frame("site-1", frame(cloud.clock, battery_1__Soc=16.0))  # past the deadband
    await settle(cloud)

    states = [f["state"] for f in cloud.frames]
    assert states == ["active_unacked", "active_acked", "cleared"]
    history = await api.store.events(ALARM, 10)
    assert [(e.to_state, e.by) for e in history] == [
        ("active_unacked", "system"),
        ("active_acked", "olga"),
        ("cleared", "system"),
    ]
    audited = [r.__dict__ for r in caplog.records if r.name == "ems.audit.alarms"]
    assert [(r["audit"], r["to_state"], r["user"]) for r in audited[-3:]] == [
        ("alarm.transition", "active_unacked", "system"),
        ("alarm.transition", "active_acked", "olga"),
        ("alarm.transition", "cleared", "system"),
    ]
    with pytest.raises(AlarmCommandRefused, match="nothing to acknowledge") as refused:
        await api.acknowledge(ALARM, "olga")
    assert refused.value.reason == "already_acknowledged"


@pytest.mark.asyncio
async def test_rules_are_validated_stored_and_audited(
    cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "ems.audit.alarms")
    a = await cloud.process()
    with pytest.raises(InvalidRule) as unknown:
        await a.put_rule("r1", dict(RULE, channel="battery_1/Nope"), "ada", create=True)
    assert (unknown.value.reason, unknown.value.field) == ("unknown_channel", "channel")
    with pytest.raises(InvalidRule) as bad:
        await a.put_rule("r1", dict(RULE, threshold="12"), "ada", create=True)
    assert (bad.value.reason, bad.value.field) == ("invalid_rule", "threshold")
    with pytest.raises(InvalidRule) as missing:
        await a.put_rule("r1", RULE, "ada", create=False)
    assert missing.value.reason == "unknown_rule"

    await a.put_rule("r1", RULE, "ada", create=True)
    await a.put_rule("r1", dict(RULE, threshold=12), "bob", create=False)
    await a.delete_rule("r1", "ada")
    changes = await a.store.rule_changes("r1")
    assert [(c.action, c.by) for c in changes] == [
        ("created", "ada"),
        ("updated", "bob"),
        ("deleted", "ada"),
    ]
    assert changes[1].rule is not None and changes[1].rule["threshold"] == 12
    assert await a.store.rules() == []
    audited = [r.__dict__ for r in caplog.records if r.name == "ems.audit.alarms"]
    assert [(r["audit"], r["user"], r["rule_id"]) for r in audited] == [
        ("alarm_rule.created", "ada", "r1"),
        ("alarm_rule.updated", "bob", "r1"),
        ("alarm_rule.deleted", "ada", "r1"),
    ]
    assert audited[1]["rule"]["threshold"] == 12

    # A process starting later loads what is stored.
    await a.put_rule("r2", RULE, "ada", create=True)
    late = await cloud.process()
    assert set(late.rules()) == {"r2"}


@pytest.mark.asyncio
async def test_edge_offline_raised_once_and_cleared(cloud: Cloud) -> None:
    a, b = await cloud.process(), await cloud.process()
    for service in (a, b):
        await service.upkeep({"site-1": (False, False), "site-2": (True, True)})
    await settle(cloud)
    assert sorted((f["alarm_id"], f["state"]) for f in cloud.frames) == [
        ("site-1.edge_offline", "active_unacked"),
        ("site-2.edge_stale", "active_unacked"),
    ]
    cloud.frames.clear()
    for service in (a, b):
        await service.upkeep({"site-1": (True, False), "site-2": (True, False)})
    await settle(cloud)
    assert sorted((f["alarm_id"], f["state"]) for f in cloud.frames) == [
        ("site-1.edge_offline", "cleared_unacked"),
        ("site-2.edge_stale", "cleared_unacked"),
    ]


@pytest.mark.asyncio
async def test_device_communication_lost_from_the_inventory(cloud: Cloud) -> None:
    a = await cloud.process()
    a.inventory("site-1", ["battery_1"])
    a.frame("site-1", frame(cloud.clock, battery_1__CommunicationFailed=True))
    await settle(cloud)
    assert [(f["alarm_id"], f["state"]) for f in cloud.frames] == [
        ("site-1.device_communication_lost.battery_1", "active_unacked")
    ]


@pytest.mark.asyncio
async def test_escalation_to_admins_once_when_not_acknowledged(cloud: Cloud) -> None:
    a, b = await cloud.process(), await cloud.process()
    await a.put_rule("low-soc", dict(RULE, for_s=0), "ada", create=True)
    await settle(cloud)
    a.frame("site-1", frame(cloud.clock, battery_1__Soc=4.0))
    await settle(cloud)
    assert cloud.mailed.calls == [(ALARM, "operator", 0, 0)]

    cloud.clock.advance(599)
    for service in (a, b):
        await service.upkeep({})
    assert len(cloud.mailed.calls) == 1  # not yet
    cloud.clock.advance(1)
    for service in (a, b):
        await service.upkeep({})
    assert cloud.mailed.calls[1:] == [(ALARM, "admin", 1, 0)]  # once, from either

    # Acknowledged, a new raise starts over, and is not escalated once acked.
    await b.acknowledge(ALARM, "olga")
    cloud.clock.advance(10_000)
    for service in (a, b):
        await service.upkeep({})
    assert len(cloud.mailed.calls) == 2


@pytest.mark.asyncio
async def test_shelve_expires_on_the_virtual_clock(cloud: Cloud) -> None:
    a = await cloud.process()
    await a.put_rule("low-soc", dict(RULE, for_s=0), "ada", create=True)
    a.frame("site-1", frame(cloud.clock, battery_1__Soc=4.0))
    await settle(cloud)
    with pytest.raises(AlarmCommandRefused) as no_reason:
        await a.shelve(ALARM, "olga", cloud.clock.time() + 3600, "")
    assert (no_reason.value.reason, no_reason.value.field) == ("shelve_reason_required", "reason")
    cloud.clock.advance(1)
    await a.shelve(ALARM, "olga", cloud.clock.time() + 3600, "sensor swap")
    await settle(cloud)
    cloud.clock.advance(3599)
    await a.upkeep({})
    assert (await a.shared.get(ALARM)).state is AlarmState.SHELVED  # type: ignore[union-attr]
    cloud.clock.advance(1)
    await a.upkeep({})
    await settle(cloud)
    stored = await a.shared.get(ALARM)
    assert stored is not None and stored.state is AlarmState.ACTIVE_UNACKED  # still low
    history = await a.store.events(ALARM, 10)
    assert [(e.to_state, e.by, e.note) for e in history][-2:] == [
        ("shelved", "olga", "sensor swap"),
        ("active_unacked", "system", "shelve_expired"),
    ]


@pytest.mark.asyncio
async def test_clock_drift_beyond_the_bound(cloud: Cloud) -> None:
    a = await cloud.process()  # bound: 5 s
    now = cloud.clock.time()
    a.clock_sample("site-1", now + 4.9, now)
    a.clock_sample("site-1", now - 7.25, now)
    a.clock_sample("site-1", now - 8.0, now)  # still drifting: nothing new
    a.clock_sample("site-1", now + 0.2, now)
    await settle(cloud)
    assert [(f["alarm_id"], f["state"], f["value"]) for f in cloud.frames] == [
        ("site-1.clock_drift", "active_unacked", -7.25),
        ("site-1.clock_drift", "cleared_unacked", 0.2),
    ]


@pytest.mark.asyncio
async def test_every_frame_fans_out_as_the_protocols_alarm_frame(cloud: Cloud) -> None:
    a = await cloud.process()
    await a.put_rule("low-soc", dict(RULE, for_s=0), "ada", create=True)
    a.inventory("site-1", ["battery_1"])
    a.frame("site-1", frame(cloud.clock, battery_1__Soc=4, battery_1__CommunicationFailed=True))
    await a.upkeep({"site-1": (False, False)})
    await settle(cloud)
    assert len(cloud.frames) == 3
    for sent in cloud.frames:
        decoded = CLOUD_TO_UI.decode(json.dumps(sent))
        assert isinstance(decoded, UiAlarm), decoded
        assert decoded.model_dump(mode="json")["alarm_id"] == sent["alarm_id"]


@pytest.mark.asyncio
async def test_a_flapping_alarm_does_not_flood_inboxes(cloud: Cloud) -> None:
    a = await cloud.process()
    await a.put_rule("low-soc", dict(RULE, for_s=0, deadband=0), "ada", create=True)
    for _ in range(5):  # raised and cleared five times in five seconds
        a.frame("site-1", frame(cloud.clock, battery_1__Soc=4.0))
        cloud.clock.advance(0.5)
        a.frame("site-1", frame(cloud.clock, battery_1__Soc=12.0))
        cloud.clock.advance(0.5)
    await settle(cloud)
    assert [f["state"] for f in cloud.frames].count("active_unacked") == 5
    assert cloud.mailed.calls == [(ALARM, "operator", 0, 0)] * 3  # the burst, then held

    await a.upkeep({})
    assert len(cloud.mailed.calls) == 3  # no room yet
    cloud.clock.advance(600)
    await a.upkeep({})
    assert cloud.mailed.calls[3:] == [(ALARM, "operator", 0, 2)]  # the two held back


@pytest.mark.asyncio
async def test_values_that_are_no_number_change_nothing(cloud: Cloud) -> None:
    a = await cloud.process()
    await a.put_rule("low-soc", dict(RULE, for_s=0), "ada", create=True)
    for odd in ("low", None, True, float("nan")):
        a.frame("site-1", frame(cloud.clock, battery_1__Soc=odd))
        cloud.clock.advance(1)
    await settle(cloud)
    assert cloud.frames == []
    a.frame("site-1", frame(cloud.clock, battery_1__Soc=2))  # still evaluating
    await settle(cloud)
    assert [f["state"] for f in cloud.frames] == ["active_unacked"]


@pytest.mark.asyncio
async def test_telemetry_dropped_raises_on_a_rise_and_clears_after_quiet(cloud: Cloud) -> None:
    a = await cloud.process()  # default quiet period: 600 s
    a.frame("site-1", frame(cloud.clock, _link__FramesDropped=3))  # baseline
    cloud.clock.advance(1.0)
    a.frame("site-1", frame(cloud.clock, _link__FramesDropped=5))
    cloud.clock.advance(1.0)
    a.frame("site-1", frame(cloud.clock, _link__FramesDropped=8))  # still rising: nothing new
    await settle(cloud)
    assert [(f["alarm_id"], f["state"], f["value"]) for f in cloud.frames] == [
        ("site-1.telemetry_dropped", "active_unacked", 5.0),
    ]
    cloud.clock.advance(599.0)
    a.frame("site-1", frame(cloud.clock, _link__FramesDropped=8))
    await a.upkeep({})
    await settle(cloud)
    assert len(cloud.frames) == 1  # quiet for 599 s: not yet
    cloud.clock.advance(1.0)
    await a.upkeep({})  # the timer clears it even without a frame
    await settle(cloud)
    assert [(f["alarm_id"], f["state"]) for f in cloud.frames][1:] == [
        ("site-1.telemetry_dropped", "cleared_unacked"),
    ]
    stored = await a.alarms("site-1", None)
    assert [(s.alarm_id, s.state) for s in stored] == [
        ("site-1.telemetry_dropped", AlarmState.CLEARED_UNACKED)
    ]


@pytest.mark.asyncio
async def test_telemetry_dropped_is_one_alarm_across_two_processes(cloud: Cloud) -> None:
    a = await cloud.process()
    b = await cloud.process()
    for service in (a, b):  # the edge's frames seen by both (it moved, or a race)
        service.frame("site-1", frame(cloud.clock, _link__FramesDropped=0))
    cloud.clock.advance(1.0)
    for service in (a, b):
        service.frame("site-1", frame(cloud.clock, _link__FramesDropped=4))
    await settle(cloud)
    assert [(f["alarm_id"], f["state"]) for f in cloud.frames] == [
        ("site-1.telemetry_dropped", "active_unacked"),
    ]
    assert len(cloud.mailed.calls) == 1


@pytest.mark.asyncio
async def test_a_battery_prognosis_raises_and_clears_its_device_alarm(cloud: Cloud) -> None:
    a = await cloud.process()
    a.inventory("site-1", ["battery_1"])
    a.frame("site-1", frame(cloud.clock, battery_1__PrognosisEndOfLife=30.0))
    await settle(cloud)
    a.frame("site-1", frame(cloud.clock, battery_1__PrognosisEndOfLife=None))
    await settle(cloud)
    assert [(f["alarm_id"], f["state"], f["value"]) for f in cloud.frames] == [
        ("site-1.battery_end_of_life.battery_1", "active_unacked", 30.0),
        ("site-1.battery_end_of_life.battery_1", "cleared_unacked", None),
    ]
