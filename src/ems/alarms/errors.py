"""Why an alarm rule or an alarm command was refused, with a stable reason code.

::

    AlarmError               ``reason`` (stable code), ``field`` (when one field is to blame)
    ├── InvalidRule          a rule refused: ``invalid_rule`` or ``unknown_channel``
    └── AlarmCommandRefused  ack / shelve / unshelve / system raise refused

The cloud translates these into its HTTP 4xx body and ``/ws/ui`` error frames;
the reason codes below are the contract, the ``detail`` text is for people.
"""

from __future__ import annotations

from ems.errors import EmsError

__all__ = [
    "ALARM_NOT_FOUND",
    "ALARM_SHELVED",
    "ALREADY_ACKNOWLEDGED",
    "DEVICE_NOT_ALLOWED",
    "DEVICE_REQUIRED",
    "INVALID_RULE",
    "NOT_SHELVED",
    "SHELVE_REASON_REQUIRED",
    "SHELVE_TOO_LONG",
    "SHELVE_UNTIL_PAST",
    "UNKNOWN_CHANNEL",
    "UNKNOWN_RULE",
    "USER_REQUIRED",
    "AlarmCommandRefused",
    "AlarmError",
    "InvalidRule",
]

INVALID_RULE = "invalid_rule"  # a field missing, of the wrong type or out of range
UNKNOWN_CHANNEL = "unknown_channel"  # the rule's channel is not one the edge reports
UNKNOWN_RULE = "unknown_rule"  # delete/replace of a rule id the evaluator does not hold
ALARM_NOT_FOUND = "alarm_not_found"
ALREADY_ACKNOWLEDGED = "already_acknowledged"  # active_acked or cleared: nothing to ack
ALARM_SHELVED = "alarm_shelved"  # a shelved alarm is suppressed: unshelve it first
SHELVE_REASON_REQUIRED = "shelve_reason_required"
SHELVE_UNTIL_PAST = "shelve_until_past"  # ``until`` not after now
SHELVE_TOO_LONG = "shelve_too_long"  # beyond the book's maximum shelving time
NOT_SHELVED = "not_shelved"  # unshelve of an alarm that is not shelved
USER_REQUIRED = "user_required"  # a command without the name of who gave it
DEVICE_REQUIRED = "device_required"  # device_communication_lost needs the device id
DEVICE_NOT_ALLOWED = "device_not_allowed"  # the other system alarms are per edge


class AlarmError(EmsError):
    """Base of the alarm errors: ``reason`` is stable, ``field`` names the culprit."""

    def __init__(self, reason: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.field = field


class InvalidRule(AlarmError):
    """An alarm rule was refused; ``field`` names the offending field."""


class AlarmCommandRefused(AlarmError):
    """An acknowledge, shelve, unshelve or system raise/clear was refused."""
