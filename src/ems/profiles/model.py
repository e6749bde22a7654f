"""Typed view of a device profile (validated JSON, see ``schema.json``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ems.dal import Category, Value, ack_address, request_address

__all__ = ["ActionSpec", "Bound", "ChannelSpec", "DeviceProfile", "DynamicLimits", "ValueSpec"]


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    category: Category
    type: str  # "number" | "integer" | "boolean" | "string"
    description: str
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] | None = None
    default: Value = None
    # Published only by some devices of the type (e.g. SocTrue: a cell-level simulator).
    optional: bool = False


@dataclass(frozen=True, slots=True)
class ValueSpec:
    type: str  # "number" | "string" | "boolean"
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Bound:
    """A limit read from telemetry: the channel's value, negated when ``negate``."""

    channel: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class DynamicLimits:
    max_age_s: float
    min: Bound | None = None
    max: Bound | None = None


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    description: str
    request: str  # suffix of ui_requests/<device>_<request> and ack/<device>_<request>
    output: str | None
    value: ValueSpec
    dynamic_limits: DynamicLimits | None = None

    def request_address(self, device_id: str) -> str:
        return request_address(device_id, self.request)

    def ack_address(self, device_id: str) -> str:
        return ack_address(device_id, self.request)


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    type: str
    description: str
    channels: Mapping[str, ChannelSpec]
    actions: Mapping[str, ActionSpec] = field(default_factory=dict)

    def channels_of(self, category: Category) -> list[ChannelSpec]:
        return [c for c in self.channels.values() if c.category is category]
