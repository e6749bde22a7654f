"""Notification rate limiting: a flapping alarm must not flood inboxes (pure policy).

Per alarm, a token bucket (GCRA, :mod:`ems.ratelimit`): ``burst`` notifications
at once, then one per ``1/per_s`` s. A transition refused is *counted*, not
lost: the next notification of that alarm says how many were held back, and
:meth:`NotificationLimiter.digests_due` names the alarms whose held-back count
can go out as a summary now that their bucket has room (a flapping alarm that
went quiet still gets its last word). Time comes from the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from ems.ratelimit import LocalLimiter, Rate

__all__ = ["DEFAULT_RATE", "NotificationLimiter", "NotifyDecision"]

#: 3 mails at once, then one per 10 minutes per alarm.
DEFAULT_RATE = Rate(per_s=1 / 600, burst=3)


@dataclass(frozen=True, slots=True)
class NotifyDecision:
    send: bool
    held_back: int  # when sending: notifications held back since the last one sent
    retry_after_s: float = 0.0  # when not: until the bucket has room [s]


class NotificationLimiter:
    def __init__(self, rate: Rate = DEFAULT_RATE) -> None:
        self.rate = rate
        self._buckets = LocalLimiter()
        self._held_back: dict[str, int] = {}

    def decide(self, alarm_id: str, now_s: float) -> NotifyDecision:
        """May a notification about ``alarm_id`` go out at ``now_s``? Counts it if not."""
        decision = self._buckets.take(alarm_id, self.rate, now_s)
        if not decision.allowed:
            self._held_back[alarm_id] = self._held_back.get(alarm_id, 0) + 1
            return NotifyDecision(False, 0, decision.retry_after_s)
        return NotifyDecision(True, self._held_back.pop(alarm_id, 0))

    def digests_due(self, now_s: float) -> dict[str, int]:
        """Alarms with held-back notifications whose bucket has room again, and how many
        were held back; each takes a token (the digest is a notification too)."""
        due: dict[str, int] = {}
        for alarm_id in sorted(self._held_back):
            if self._buckets.take(alarm_id, self.rate, now_s).allowed:
                due[alarm_id] = self._held_back.pop(alarm_id)
        return due
