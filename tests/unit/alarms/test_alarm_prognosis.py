"""Predictive battery alarms: a prognosis channel's number raises the device's alarm
with that value, null clears it, anything else or nothing changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ems.alarms import AlarmBook, AlarmState, SystemAlarmKind, system_alarm_id
from ems.alarms.errors import AlarmCommandRefused
from ems.alarms.prognosis import PrognosisWatch
from ems.clock import VirtualClock
from ems.protocol.frames import ChannelSample

EDGE = "site-1"
AT = datetime(2026, 12, 7, tzinfo=UTC)
EOL = system_alarm_id(SystemAlarmKind.BATTERY_END_OF_LIFE, EDGE, "battery_1")


def frame(**values: object) -> dict[str, ChannelSample]:
    return {
        f"battery_1/{name}": ChannelSample.model_validate({"v": v, "t": AT})
        for name, v in values.items()
    }


def watched() -> tuple[AlarmBook, PrognosisWatch]:
    book = AlarmBook(VirtualClock(1.78e9))
    watch = PrognosisWatch()
    watch.watch(EDGE, ["battery_1", "pv_1"])
    return book, watch


def test_a_predicted_end_of_life_raises_the_batterys_alarm_with_the_days_left() -> None:
    book, watch = watched()
    [event] = watch.observe(book, EDGE, frame(PrognosisEndOfLife=42.5, PrognosisTemperature=None))
    assert event.alarm_id == EOL == "site-1.battery_end_of_life.battery_1"
    alarm = book.find(EOL)
    assert alarm is not None and alarm.state is AlarmState.ACTIVE_UNACKED
    assert alarm.value == 42.5
    assert watch.observe(book, EDGE, frame(PrognosisEndOfLife=41.0)) == []  # still active
    [cleared] = watch.observe(book, EDGE, frame(PrognosisEndOfLife=None))
    assert cleared.to_state is AlarmState.CLEARED_UNACKED


@pytest.mark.parametrize("value", ["soon", True, float("nan")])
def test_a_malformed_prognosis_changes_nothing(value: object) -> None:
    book, watch = watched()
    assert watch.observe(book, EDGE, frame(PrognosisResistance=value)) == []
    assert book.find(EDGE + ".battery_resistance_rising.battery_1") is None


def test_an_edge_or_device_not_in_the_inventory_is_not_watched() -> None:
    book, watch = watched()
    assert watch.observe(book, "site-2", frame(PrognosisTemperature=600.0)) == []
    samples = {"battery_9/PrognosisTemperature": ChannelSample(v=600.0, t=AT)}
    assert watch.observe(book, EDGE, samples) == []


def test_battery_predictions_are_per_device() -> None:
    with pytest.raises(AlarmCommandRefused):
        system_alarm_id(SystemAlarmKind.BATTERY_TEMPERATURE_RISING, EDGE, None)
