"""Alarm rules (DESIGN 14): a channel or site total, ``>``/``<`` a threshold, held for ``for_s``.

The JSON fields are DESIGN 14's: ``edge_id``, ``channel``, ``operator``,
``threshold``, ``for_s``, ``deadband``, ``severity``. ``threshold`` and
``deadband`` are in the channel's own unit (W, Wh, %, V, Hz: DESIGN 3), which
is why they carry no unit suffix. The rule's id is not a field: whoever stores
rules names them (:meth:`ems.alarms.AlarmEvaluator.set_rule`).

A ``>`` rule's condition is ``value > threshold``; once active, its alarm
clears only when ``value < threshold - deadband``, so a value hovering at the
threshold does not raise and clear every sample. ``<`` mirrors it.
"""

from __future__ import annotations

import re
from collections.abc import Container
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from ems.alarms.errors import INVALID_RULE, UNKNOWN_CHANNEL, InvalidRule
from ems.protocol.types import ChannelAddress, EdgeId

__all__ = [
    "MAX_FOR_S",
    "RULE_ID_PATTERN",
    "AlarmRule",
    "Severity",
    "check_rule_id",
    "parse_rule",
]

#: A rule id: safe in URLs, Redis keys and alarm ids (``<edge_id>.rule.<rule_id>``).
RULE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_RULE_ID_RE = re.compile(RULE_ID_PATTERN)

#: One day: a longer delay is a report, not an alarm [s].
MAX_FOR_S = 86_400.0

# Strict: "12" (a string) is a mistake in a rule, not a number to coerce.
_Number = Annotated[StrictFloat | StrictInt, Field(allow_inf_nan=False)]


class Severity(StrEnum):
    """Alarm priority, as ISA-18.2 ranks them (most urgent first)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class AlarmRule(BaseModel):
    """One threshold rule on one edge's channel (``device/Channel``, ``_sum/…`` for totals)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edge_id: EdgeId
    channel: ChannelAddress = Field(description="'battery_1/Soc', or a site total '_sum/…'")
    operator: Literal[">", "<"]
    threshold: _Number = Field(description="In the channel's unit")
    for_s: _Number = Field(
        default=0.0, ge=0, le=MAX_FOR_S, description="Condition held this long before active [s]"
    )
    deadband: _Number = Field(
        default=0.0, ge=0, description="Back past the threshold by this much to clear [unit]"
    )
    severity: Severity = Severity.MEDIUM

    def over(self, value: float) -> bool:
        """Whether ``value`` meets the condition (raises, after ``for_s``)."""
        return value > self.threshold if self.operator == ">" else value < self.threshold

    def back_to_normal(self, value: float) -> bool:
        """Whether ``value`` is past the threshold *and* the deadband (clears)."""
        if self.operator == ">":
            return value < self.threshold - self.deadband
        return value > self.threshold + self.deadband


def check_rule_id(rule_id: str) -> str:
    if not isinstance(rule_id, str) or not _RULE_ID_RE.fullmatch(rule_id):
        raise InvalidRule(
            INVALID_RULE, f"rule id {rule_id!r} must match {RULE_ID_PATTERN}", field="rule_id"
        )
    return rule_id


def parse_rule(data: object, known_channels: Container[str] | None = None) -> AlarmRule:
    """Validate a rule from JSON; raise :class:`InvalidRule` naming the first bad field.

    ``known_channels``: the channels the rule's edge reports (from its latest
    telemetry or inventory); a rule on any other channel is ``unknown_channel``.
    ``None`` skips that check (an edge never seen yet).
    """
    try:
        rule = AlarmRule.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # A rule is flat: the first part of the location is the field (the rest would
        # name the member of a union, "threshold.float").
        field = str(first["loc"][0]) if first["loc"] else None
        raise InvalidRule(INVALID_RULE, f"{field or 'rule'}: {first['msg']}", field=field) from None
    if known_channels is not None and rule.channel not in known_channels:
        raise InvalidRule(
            UNKNOWN_CHANNEL,
            f"channel: {rule.channel!r} is not a channel of edge {rule.edge_id!r}",
            field="channel",
        )
    return rule
