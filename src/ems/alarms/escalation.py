"""When an unacknowledged alarm is due for escalation to the next role up (pure).

An alarm ``active_unacked`` since ``since_s`` is for ``roles[0]`` (operators)
at once, for ``roles[1]`` (admins) from ``since_s + escalate_after_s``, and so
on, one role per ``escalate_after_s``. Acknowledging it, or its return to
normal (``cleared_unacked``: nothing left to act on), stops the escalation;
raised again, it starts over from the first role.

The caller keeps which level it has notified per alarm (in Redis, so that one
process sends each escalation) and asks :func:`escalations_due` on a timer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ems.alarms.state import Alarm, AlarmState

__all__ = ["Escalation", "EscalationPolicy", "escalations_due"]


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    escalate_after_s: float
    roles: tuple[str, ...] = ("operator", "admin")

    def __post_init__(self) -> None:
        if not (math.isfinite(self.escalate_after_s) and self.escalate_after_s > 0):
            raise ValueError(
                f"escalate_after_s must be a positive number, not {self.escalate_after_s!r}"
            )
        if not self.roles:
            raise ValueError("roles must name at least one role")

    def level_at(self, alarm: Alarm, now_s: float) -> int | None:
        """Index into ``roles`` of who should be told by ``now_s``; ``None``: nobody
        (the alarm is not active and unacknowledged)."""
        if alarm.state is not AlarmState.ACTIVE_UNACKED or alarm.since_s is None:
            return None
        steps = math.floor(max(0.0, now_s - alarm.since_s) / self.escalate_after_s)
        return min(steps, len(self.roles) - 1)

    def due_at_s(self, alarm: Alarm, level: int) -> float | None:
        """When ``level`` (1: the first escalation) falls due [UTC epoch s]; ``None``
        when the alarm will not escalate (acknowledged, cleared, no such role)."""
        if alarm.state is not AlarmState.ACTIVE_UNACKED or alarm.since_s is None:
            return None
        if not 0 <= level < len(self.roles):
            return None
        return alarm.since_s + level * self.escalate_after_s


@dataclass(frozen=True, slots=True)
class Escalation:
    alarm_id: str
    level: int
    role: str
    due_at_s: float


def escalations_due(
    policy: EscalationPolicy,
    alarms: Iterable[Alarm],
    now_s: float,
    notified: Mapping[str, int],
) -> list[Escalation]:
    """The escalations to send now: alarms whose level by ``now_s`` is above the level
    ``notified`` records for them (absent: level 0, the first notification, was sent)."""
    due: list[Escalation] = []
    for alarm in alarms:
        level = policy.level_at(alarm, now_s)
        if level is None or level <= notified.get(alarm.alarm_id, 0):
            continue
        at_s = policy.due_at_s(alarm, level)
        assert at_s is not None  # level_at said it is active_unacked
        due.append(Escalation(alarm.alarm_id, level, policy.roles[level], at_s))
    return due
