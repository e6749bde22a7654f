"""The ISA-18.2 transitions (see :mod:`ems.alarms.state`) as functions on one alarm.

Each returns the :class:`AlarmEvent` it caused (``None``: nothing changed) or
raises :class:`AlarmCommandRefused` with a stable reason. No clock reads: the
caller passes the time, so these run the same on a virtual clock.
"""

from __future__ import annotations

from ems.alarms.errors import (
    ALARM_SHELVED,
    ALREADY_ACKNOWLEDGED,
    NOT_SHELVED,
    SHELVE_REASON_REQUIRED,
    SHELVE_TOO_LONG,
    SHELVE_UNTIL_PAST,
    USER_REQUIRED,
    AlarmCommandRefused,
)
from ems.alarms.state import SYSTEM_USER, Alarm, AlarmEvent, AlarmState

__all__ = [
    "MAX_NOTE_CHARS",
    "acknowledge",
    "expire_shelve",
    "retire",
    "set_condition",
    "shelve",
    "unshelve",
]

MAX_NOTE_CHARS = 500

_ACTIVE = AlarmState.ACTIVE_UNACKED
_ACKED = AlarmState.ACTIVE_ACKED
_CLEARED_UNACKED = AlarmState.CLEARED_UNACKED
_CLEARED = AlarmState.CLEARED
_SHELVED = AlarmState.SHELVED


def _move(
    alarm: Alarm, to: AlarmState, at_s: float, by: str, note: str | None = None
) -> AlarmEvent:
    event = AlarmEvent(
        alarm_id=alarm.alarm_id,
        edge_id=alarm.edge_id,
        rule=alarm.rule,
        severity=alarm.severity,
        from_state=alarm.state,
        to_state=to,
        value=alarm.value,
        at_s=at_s,
        by=by,
        note=note,
    )
    alarm.state = to
    alarm.since_s = at_s
    return event


def set_condition(
    alarm: Alarm, on: bool, value: float | bool | None, at_s: float
) -> AlarmEvent | None:
    """The process condition became ``on`` (raise) or went back to normal (clear)."""
    alarm.condition = on
    alarm.value = value
    state = alarm.state
    if state is _SHELVED:
        return None
    if on:
        if state is _CLEARED or state is _CLEARED_UNACKED:
            alarm.acked_by = None
            return _move(alarm, _ACTIVE, at_s, SYSTEM_USER)
        return None
    if state is _ACTIVE:
        return _move(alarm, _CLEARED_UNACKED, at_s, SYSTEM_USER)
    if state is _ACKED:
        return _move(alarm, _CLEARED, at_s, SYSTEM_USER)
    return None


def _require_user(user: str) -> None:
    if not isinstance(user, str) or not user.strip():
        raise AlarmCommandRefused(USER_REQUIRED, "the command names no user", field="user")


def acknowledge(alarm: Alarm, user: str, at_s: float) -> AlarmEvent:
    _require_user(user)
    if alarm.state is _ACTIVE:
        to = _ACKED
    elif alarm.state is _CLEARED_UNACKED:
        to = _CLEARED
    elif alarm.state is _SHELVED:
        raise AlarmCommandRefused(
            ALARM_SHELVED, f"alarm {alarm.alarm_id} is shelved: unshelve it first"
        )
    else:
        raise AlarmCommandRefused(
            ALREADY_ACKNOWLEDGED, f"alarm {alarm.alarm_id} is {alarm.state}: nothing to acknowledge"
        )
    alarm.acked_by = user
    return _move(alarm, to, at_s, user)


def shelve(
    alarm: Alarm, user: str, until_s: float, reason: str, at_s: float, max_shelve_s: float
) -> AlarmEvent:
    """Suppress the alarm until ``until_s`` [UTC epoch s]; a shelved alarm may be shelved
    again (a new time and reason). The reason is required: ISA-18.2 shelving is audited."""
    _require_user(user)
    if not isinstance(reason, str) or not reason.strip():
        raise AlarmCommandRefused(SHELVE_REASON_REQUIRED, "shelving needs a reason", field="reason")
    if len(reason) > MAX_NOTE_CHARS:
        raise AlarmCommandRefused(
            SHELVE_REASON_REQUIRED,
            f"the reason is longer than {MAX_NOTE_CHARS} characters",
            field="reason",
        )
    if not until_s > at_s:  # also refuses NaN
        raise AlarmCommandRefused(
            SHELVE_UNTIL_PAST, "shelve 'until' must be after now", field="until"
        )
    if until_s - at_s > max_shelve_s:
        raise AlarmCommandRefused(
            SHELVE_TOO_LONG,
            f"alarms are shelved for at most {max_shelve_s:g} s",
            field="until",
        )
    alarm.shelved_by = user
    alarm.shelved_until_s = until_s
    alarm.shelve_reason = reason.strip()
    return _move(alarm, _SHELVED, at_s, user, note=alarm.shelve_reason)


def unshelve(alarm: Alarm, user: str, at_s: float, note: str | None = None) -> AlarmEvent:
    """Back to what the condition says: ``active_unacked`` (annunciated again) or ``cleared``."""
    _require_user(user)
    if alarm.state is not _SHELVED:
        raise AlarmCommandRefused(NOT_SHELVED, f"alarm {alarm.alarm_id} is not shelved")
    alarm.shelved_by = None
    alarm.shelved_until_s = None
    alarm.shelve_reason = None
    alarm.acked_by = None
    return _move(alarm, _ACTIVE if alarm.condition else _CLEARED, at_s, user, note=note)


def expire_shelve(alarm: Alarm, at_s: float) -> AlarmEvent | None:
    """Unshelve (by ``system``) when the shelving time has come."""
    until_s = alarm.shelved_until_s
    if alarm.state is not _SHELVED or until_s is None or at_s < until_s:
        return None
    return unshelve(alarm, SYSTEM_USER, at_s, note="shelve_expired")


def retire(alarm: Alarm, at_s: float, note: str) -> AlarmEvent | None:
    """The alarm's rule is gone: a last ``cleared`` event, unless it already was cleared."""
    alarm.condition = False
    if alarm.state is _CLEARED:
        return None
    return _move(alarm, _CLEARED, at_s, SYSTEM_USER, note=note)
