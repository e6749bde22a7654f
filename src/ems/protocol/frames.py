"""Every frame of the wire contract (DESIGN section 5) as a strict model.

Extra fields, missing fields and wrong types are refused; nothing is coerced
(``"100"`` is not a number). Cloud, edge and tests import these, so the
contract lives in one place. ``ems protocol schema`` prints their JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from ems.protocol.controllers import SET_CONTROLLER, ControllerRef, ControllerSettings
from ems.protocol.statuses import AckStatus, EdgeAckStatus
from ems.protocol.types import (
    ActionName,
    AuditEventName,
    ChannelAddress,
    ChannelValue,
    CommandId,
    CommandValue,
    DeviceId,
    EdgeId,
    PreciseTimestamp,
    Reason,
    SampleTime,
    Timestamp,
    Username,
)

__all__ = [
    "DEFAULT_TTL_S",
    "MAX_AUDIT_RECORDS",
    "MAX_TTL_S",
    "AckStatus",
    "AuditRecord",
    "ChannelSample",
    "ClockPing",
    "ClockPong",
    "CloudToEdgeCommand",
    "DeviceRef",
    "EdgeAck",
    "EdgeAudit",
    "EdgeAuth",
    "EdgeAuthOk",
    "EdgeConfigAck",
    "EdgeConfigPush",
    "EdgeInventory",
    "EdgeStatus",
    "EdgeTelemetry",
    "ErrorFrame",
    "Frame",
    "TelemetryAck",
    "UiAck",
    "UiAlarm",
    "UiAuth",
    "UiAuthOk",
    "UiCommand",
    "UiConfigStatus",
    "UiSubscribe",
    "UiTelemetry",
    "UiUnsubscribe",
]

DEFAULT_TTL_S = 300
MAX_AUDIT_RECORDS = 100  # per audit frame
MAX_TTL_S = 3600

Role = Literal["viewer", "operator", "admin"]


class Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _CommandValue(Frame):
    """An object ``value`` belongs to ``set_controller`` only, and it takes nothing else,
    so every other action keeps its single-value contract."""

    action: ActionName
    value: CommandValue | ControllerSettings

    @model_validator(mode="after")
    def _value_fits_action(self) -> _CommandValue:
        if isinstance(self.value, dict) != (self.action == SET_CONTROLLER):
            wanted = "an object of parameters" if self.action == SET_CONTROLLER else "one value"
            raise ValueError(f"value: {self.action} takes {wanted}")
        return self


class ChannelSample(Frame):
    v: ChannelValue
    t: SampleTime


Channels = Annotated[dict[ChannelAddress, ChannelSample], Field(max_length=20_000)]
Detail = Annotated[StrictStr, Field(max_length=1000)] | None


# -- dashboard ⇄ cloud (/ws/ui) --------------------------------------------------
class UiAuth(Frame):
    type: Literal["auth"]
    token: Annotated[StrictStr, Field(min_length=1, max_length=8192)]


class UiSubscribe(Frame):
    type: Literal["subscribe"]
    edge_id: EdgeId


class UiUnsubscribe(Frame):
    type: Literal["unsubscribe"]
    edge_id: EdgeId


class UiCommand(_CommandValue):
    """``value``: a number, mode name or switch; for ``set_controller`` an object of the
    controller's parameters to change (``device`` is then the controller's id)."""

    type: Literal["command"]
    command_id: CommandId
    edge_id: EdgeId
    device: DeviceId
    action: ActionName
    value: CommandValue | ControllerSettings
    issued_at: Timestamp
    ttl_s: Annotated[StrictInt, Field(ge=1, le=MAX_TTL_S)] = DEFAULT_TTL_S


class UiAuthOk(Frame):
    type: Literal["auth_ok"] = "auth_ok"
    user: Username
    role: Role
    server_time: Timestamp


class UiTelemetry(Frame):
    type: Literal["telemetry"] = "telemetry"
    edge_id: EdgeId
    ts: Timestamp
    channels: Channels


class EdgeStatus(Frame):
    """``stale``: connected (``online``) but silent for longer than the cloud's
    ``EMS_EDGE_STALE_S``; always false when offline. Absent means false (older clouds)."""

    type: Literal["edge_status"] = "edge_status"
    edge_id: EdgeId
    online: bool
    last_seen: Timestamp | None
    stale: bool = False


class UiAck(Frame):
    type: Literal["ack"] = "ack"
    command_id: CommandId
    edge_id: EdgeId
    status: AckStatus
    reason: Reason | None = None
    detail: Detail = None
    at: Timestamp


class UiAlarm(Frame):
    """DESIGN 14: one transition of an alarm, to the dashboards subscribed to its edge
    (``ems.alarms.AlarmEvent.as_frame``). ``rule``: the rule id, or the system alarm
    kind (``edge_offline``, ``device_communication_lost``, …); ``value``: the
    channel's value at the transition, in its unit."""

    type: Literal["alarm"] = "alarm"
    alarm_id: Annotated[StrictStr, Field(max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")]
    edge_id: EdgeId
    rule: Annotated[StrictStr, Field(max_length=64)]
    state: Literal["active_unacked", "active_acked", "cleared_unacked", "cleared", "shelved"]
    severity: Literal["critical", "high", "medium", "low"]
    value: StrictBool | StrictInt | float | None
    at: Timestamp


class UiConfigStatus(Frame):
    """cloud → dashboard: what became of a config version of an edge the dashboard
    subscribed to (``stored``, ``pushed``, ``applied``, ``rejected`` with the edge's reason)."""

    type: Literal["config_status"] = "config_status"
    edge_id: EdgeId
    version: Annotated[StrictInt, Field(ge=1)]
    status: Literal["stored", "pushed", "applied", "rejected"]
    reason: Reason | None = None
    detail: Detail = None
    at: Timestamp


class ErrorFrame(Frame):
    type: Literal["error"] = "error"
    code: Reason
    detail: Detail = None


# -- edge ⇄ cloud (/ws/edge) -----------------------------------------------------
class EdgeAuth(Frame):
    type: Literal["auth"]
    edge_id: EdgeId
    api_key: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    edge_time: Timestamp


class EdgeAuthOk(Frame):
    type: Literal["auth_ok"] = "auth_ok"
    server_time: Timestamp


class DeviceRef(Frame):
    id: DeviceId
    profile: ActionName  # a profile type name: lower_snake like an action


class EdgeInventory(Frame):
    """``controllers``: what ``set_controller`` may change (absent from older edges: none)."""

    type: Literal["inventory"]
    devices: Annotated[list[DeviceRef], Field(max_length=1000)]
    controllers: Annotated[list[ControllerRef], Field(max_length=100)] = []
    #: The config version the edge runs (DESIGN 16); absent or null: none from the cloud yet.
    config_version: Annotated[StrictInt, Field(ge=1)] | None = None


class CloudToEdgeCommand(_CommandValue):
    type: Literal["command"] = "command"
    command_id: CommandId
    device: DeviceId
    action: ActionName
    value: CommandValue | ControllerSettings
    issued_at: Timestamp
    deadline: Timestamp
    user: Username


class EdgeAck(Frame):
    type: Literal["ack"]
    command_id: CommandId
    status: EdgeAckStatus
    reason: Reason | None = None
    detail: Detail = None
    at: Timestamp


class EdgeTelemetry(Frame):
    type: Literal["telemetry"]
    seq: Annotated[StrictInt, Field(ge=0)]
    ts: Timestamp
    channels: Channels
    # True for a frame sent again from the edge's buffer (after a reconnect or a
    # missing ack): stored, but not live, so it never moves live views backwards.
    backfill: StrictBool = False


class TelemetryAck(Frame):
    type: Literal["telemetry_ack"] = "telemetry_ack"
    seq: Annotated[StrictInt, Field(ge=0)]


class AuditRecord(Frame):
    """One of the edge's audit records about a command the cloud sent it.

    ``id`` (a UUID the edge picks) identifies the record: the cloud stores a
    record once however often it arrives. ``seq`` counts the edge's records
    (it orders records with the same ``at``).
    """

    id: CommandId
    seq: Annotated[StrictInt, Field(ge=0)]
    command_id: CommandId
    event: AuditEventName
    status: Reason | None = None
    reason: Reason | None = None
    detail: Detail = None
    at: PreciseTimestamp


class EdgeAudit(Frame):
    """edge → cloud: audit records, oldest first (kept by the edge until the socket takes them)."""

    type: Literal["audit"]
    records: Annotated[list[AuditRecord], Field(min_length=1, max_length=MAX_AUDIT_RECORDS)]


class ClockPing(Frame):
    """edge → cloud: "what time is it?"; ``edge_time`` is when the edge sent it (its clock)."""

    type: Literal["clock_ping"]
    edge_time: PreciseTimestamp


class ClockPong(Frame):
    """cloud → edge: the ping's ``edge_time`` echoed and the cloud's time when it answered."""

    type: Literal["clock_pong"] = "clock_pong"
    edge_time: PreciseTimestamp
    server_time: PreciseTimestamp


class EdgeConfigPush(Frame):
    """cloud → edge: a config version to apply (DESIGN 16); ``config`` is the decoded YAML."""

    type: Literal["config"] = "config"
    version: Annotated[StrictInt, Field(ge=1)]
    config: dict[str, Any]


class EdgeConfigAck(Frame):
    """edge → cloud: what became of a pushed config. ``reason`` is a stable code when
    ``rejected`` (``invalid_config``, ``wrong_edge``, ``build_failed``, ``stale_version``,
    ``restart_required``, ``device_not_ready``, ``not_supported``); ``detail`` names
    the field or what failed."""

    type: Literal["config_ack"]
    version: Annotated[StrictInt, Field(ge=1)]
    status: Literal["applied", "rejected"]
    reason: Reason | None = None
    detail: Detail = None

    @classmethod
    def rejected(cls, version: int, reason: str, detail: str) -> EdgeConfigAck:
        """The ack of a push that was not applied: ``reason`` a config-sync code
        (:mod:`ems.protocol.config_reasons`, or an HA one), ``detail`` what failed."""
        return cls(
            type="config_ack", version=version, status="rejected", reason=reason, detail=detail
        )
