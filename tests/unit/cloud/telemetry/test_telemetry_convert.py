"""From a telemetry frame's channels to store rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ems.cloud.telemetry import TelemetryRow, rows_from_frame
from ems.protocol.frames import ChannelSample

AT = datetime(2026, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)
T = AT.timestamp()


def sample(v: object, t: datetime = AT) -> ChannelSample:
    return ChannelSample.model_validate({"v": v, "t": t})


def test_values_by_type() -> None:
    channels = {
        "battery_1/Soc": sample(55.5),
        "battery_1/ActivePower": sample(-2500),
        "grid/Connected": sample(True),
        "pv_1/Curtailed": sample(False),
        "battery_1/Mode": sample("auto"),
        "load/ActivePower": sample(None),
    }
    assert rows_from_frame("site-1", channels) == [
        TelemetryRow(T, "site-1", "battery_1/Soc", 55.5, None),
        TelemetryRow(T, "site-1", "battery_1/ActivePower", -2500.0, None),
        TelemetryRow(T, "site-1", "grid/Connected", 1.0, None),
        TelemetryRow(T, "site-1", "pv_1/Curtailed", 0.0, None),
        TelemetryRow(T, "site-1", "battery_1/Mode", None, "auto"),
    ]
    assert all(type(r.value) is float for r in rows_from_frame("site-1", channels) if r.value)


def test_each_sample_keeps_its_own_time_in_utc_seconds() -> None:
    later = datetime(2026, 1, 1, 14, 0, 1, tzinfo=timezone(timedelta(hours=2)))
    rows = rows_from_frame("site-1", {"a/B": sample(1.0), "c/D": sample(2.0, later)})
    assert [r.time_s for r in rows] == [T, T + 0.75]


def test_non_finite_numbers_are_skipped() -> None:
    channels = {"a/B": sample(float("nan")), "c/D": sample(float("inf")), "e/F": sample(10**400)}
    assert rows_from_frame("site-1", channels) == []


def test_unknown_value_types_are_a_bug() -> None:
    class Odd:
        def __init__(self) -> None:
            self.v = {"status": "executed"}  # a DAL ack value: never on the telemetry wire
            self.t = AT

    with pytest.raises(TypeError, match="a/B"):
        rows_from_frame("site-1", {"a/B": Odd()})
