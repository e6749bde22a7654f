"""A report subscription: who gets which site's report for which period, and how the last
send went.

``status``: ``scheduled`` (waiting for its period to end), ``retrying`` (the
last send failed; ``attempts`` and ``last_error`` say why, ``due_s`` says when
it tries again), ``failed`` (given up on that period after ``max_attempts``;
the next period is scheduled as usual). ``last_sent_period`` is the first day
of the last period delivered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ems.reports.period import PeriodKind
from ems.timefmt import to_rfc3339

__all__ = ["MailStatus", "NewSubscription", "Subscription"]


class MailStatus(StrEnum):
    SCHEDULED = "scheduled"
    RETRYING = "retrying"
    FAILED = "failed"


#: One address, no display name; commas and angle brackets refused (header injection).
Address = Annotated[
    str, StringConstraints(pattern=r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$", max_length=254)
]


class NewSubscription(BaseModel):
    """The body of ``POST /api/reports/subscriptions``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edge_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    period: PeriodKind
    recipients: list[Address] = Field(min_length=1, max_length=20)


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    edge_id: str
    period: PeriodKind
    recipients: tuple[str, ...]
    created_by: str
    created_at_s: float
    period_first: dt.date  # the first local day of the period to send next
    due_s: float  # UTC epoch seconds when it is (re)tried
    status: MailStatus = MailStatus.SCHEDULED
    attempts: int = 0
    last_error: str | None = None
    last_sent_period: dt.date | None = None
    last_sent_at_s: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.subscription_id,
            "edge_id": self.edge_id,
            "period": self.period.value,
            "recipients": list(self.recipients),
            "created_by": self.created_by,
            "created_at": to_rfc3339(self.created_at_s),
            "next_period_first_day": self.period_first.isoformat(),
            "due": to_rfc3339(self.due_s),
            "status": self.status.value,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "last_sent_period_first_day": None
            if self.last_sent_period is None
            else self.last_sent_period.isoformat(),
            "last_sent_at": None
            if self.last_sent_at_s is None
            else to_rfc3339(self.last_sent_at_s),
        }
