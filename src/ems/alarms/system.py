"""System alarms (DESIGN 14, issue 17 item 2): raised and cleared by the cloud, no rule.

Their alarm ids, like a rule alarm's, name what they are about, so any process
that sees the same condition names the same alarm:
``<edge_id>.<kind>`` and, per device, ``<edge_id>.<kind>.<device>``
(``device_communication_lost`` and the battery predictions).
"""

from __future__ import annotations

from enum import StrEnum

from ems.alarms.errors import DEVICE_NOT_ALLOWED, DEVICE_REQUIRED, AlarmCommandRefused
from ems.alarms.rules import Severity
from ems.dal.address import check_device_id
from ems.errors import InvalidAddress

__all__ = [
    "COMMUNICATION_FAILED",
    "DEFAULT_SEVERITY",
    "PER_DEVICE",
    "SystemAlarmKind",
    "rule_alarm_id",
    "system_alarm_id",
]

#: The driver's channel (``<device>/CommunicationFailed``, true: the last poll got no answer).
COMMUNICATION_FAILED = "CommunicationFailed"


class SystemAlarmKind(StrEnum):
    EDGE_OFFLINE = "edge_offline"  # no socket
    EDGE_STALE = "edge_stale"  # connected, but silent longer than EMS_EDGE_STALE_S
    DEVICE_COMMUNICATION_LOST = "device_communication_lost"  # <device>/CommunicationFailed
    CLOCK_DRIFT = "clock_drift"  # the edge's clock beyond its bound
    TELEMETRY_DROPPED = "telemetry_dropped"  # the edge's buffer dropped frames
    ENERGY_ANOMALY = "energy_anomaly"  # unusual consumption or generation (ems.reports.anomalies)
    # Predicted by a battery's estimator (ems.alarms.prognosis), per device:
    BATTERY_END_OF_LIFE = "battery_end_of_life"  # SOH reaches 80 % within the horizon
    BATTERY_TEMPERATURE_RISING = "battery_temperature_rising"  # heading for its limit
    BATTERY_RESISTANCE_RISING = "battery_resistance_rising"  # faster than expected


DEFAULT_SEVERITY: dict[SystemAlarmKind, Severity] = {
    SystemAlarmKind.EDGE_OFFLINE: Severity.HIGH,
    SystemAlarmKind.EDGE_STALE: Severity.MEDIUM,
    SystemAlarmKind.DEVICE_COMMUNICATION_LOST: Severity.HIGH,
    SystemAlarmKind.CLOCK_DRIFT: Severity.MEDIUM,
    SystemAlarmKind.TELEMETRY_DROPPED: Severity.MEDIUM,
    SystemAlarmKind.ENERGY_ANOMALY: Severity.LOW,
    SystemAlarmKind.BATTERY_END_OF_LIFE: Severity.LOW,
    SystemAlarmKind.BATTERY_TEMPERATURE_RISING: Severity.HIGH,
    SystemAlarmKind.BATTERY_RESISTANCE_RISING: Severity.MEDIUM,
}

#: The kinds raised per device (their ids end in ``.<device>``).
PER_DEVICE = frozenset(
    {
        SystemAlarmKind.DEVICE_COMMUNICATION_LOST,
        SystemAlarmKind.BATTERY_END_OF_LIFE,
        SystemAlarmKind.BATTERY_TEMPERATURE_RISING,
        SystemAlarmKind.BATTERY_RESISTANCE_RISING,
    }
)


def rule_alarm_id(edge_id: str, rule_id: str) -> str:
    return f"{edge_id}.rule.{rule_id}"


def system_alarm_id(kind: SystemAlarmKind, edge_id: str, device: str | None) -> str:
    """The id of a system alarm; refuses a device where the kind has none, and vice versa."""
    if kind in PER_DEVICE:
        if device is None:
            raise AlarmCommandRefused(
                DEVICE_REQUIRED, f"{kind} is raised per device: name it", field="device"
            )
        try:
            check_device_id(device)
        except InvalidAddress as exc:
            raise AlarmCommandRefused(DEVICE_REQUIRED, str(exc), field="device") from None
        return f"{edge_id}.{kind}.{device}"
    if device is not None:
        raise AlarmCommandRefused(
            DEVICE_NOT_ALLOWED, f"{kind} is raised per edge, not per device", field="device"
        )
    return f"{edge_id}.{kind}"
