"""Field types shared by the wire frames: ids, timestamps, values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeAlias

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    PlainSerializer,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

__all__ = [
    "ActionName",
    "AuditEventName",
    "ChannelAddress",
    "ChannelValue",
    "CommandId",
    "CommandValue",
    "DeviceId",
    "EdgeId",
    "PreciseTimestamp",
    "Reason",
    "SampleTime",
    "Timestamp",
    "Username",
    "utc_now",
]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: RFC 3339 with an explicit offset on the way in, UTC ``…Z`` on the way out.
Timestamp: TypeAlias = Annotated[
    AwareDatetime, AfterValidator(_utc), PlainSerializer(_rfc3339, return_type=str)
]


def _rfc3339_us(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


#: Like :data:`Timestamp`, written with microseconds (audit records, clock pings:
#: their order and round trips are finer than a millisecond).
PreciseTimestamp: TypeAlias = Annotated[
    AwareDatetime, AfterValidator(_utc), PlainSerializer(_rfc3339_us, return_type=str)
]

#: An edge's audit event: ``edge.<what>`` or ``controller.<what>`` (never ``cloud.…``).
AuditEventName = Annotated[
    StrictStr, Field(pattern=r"^(?:edge|controller)\.[a-z][a-z0-9_]*$", max_length=64)
]

#: A sample's time: RFC 3339 with an explicit offset, kept in the offset it came
#: with (it is compared and converted, never shown as is) and sent on as UTC
#: ``…Z``. Without :data:`Timestamp`'s normalising validator: a telemetry frame
#: carries one per channel, and that Python call per value was a third of its
#: decoding time.
SampleTime: TypeAlias = Annotated[AwareDatetime, PlainSerializer(_rfc3339, return_type=str)]

EdgeId = Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
DeviceId = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$", max_length=64)]
ActionName = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$", max_length=64)]
#: A UUID in its canonical text form (the dashboard sends uuid4).
CommandId = Annotated[
    StrictStr,
    Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]
ChannelAddress = Annotated[
    StrictStr,
    Field(pattern=r"^_?[a-z][a-z0-9]*(?:_[a-z0-9]+)*/[A-Z][A-Za-z0-9]*$", max_length=128),
]
Reason = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Username = Annotated[StrictStr, Field(min_length=1, max_length=150)]
#: A command value: a number (W, …), a mode name or a switch.
CommandValue: TypeAlias = (
    StrictBool | StrictInt | StrictFloat | Annotated[StrictStr, Field(max_length=64)]
)
#: A telemetry value; ``None`` for a channel without a value.
ChannelValue: TypeAlias = (
    StrictBool | StrictInt | StrictFloat | Annotated[StrictStr, Field(max_length=256)] | None
)


def utc_now() -> datetime:
    return datetime.now(UTC)
