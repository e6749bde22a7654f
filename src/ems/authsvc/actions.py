"""The audit of user actions in the auth service (DESIGN 8, 16): users, memberships,
grants and keys changed, with who, what, when, before and after.

Each action goes through :func:`ems.audit.record_action` (the audit trail's log
line, like a command's waypoints) and is kept as an :class:`AuditEntry` row for
``GET /api/audit``. Who: the signed-in user of the admin request being served
(:class:`ActorMiddleware`), else ``cli`` (a shell: ``ems auth ...``).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

from ems.audit import ActionRecord, record_action

__all__ = ["ActorMiddleware", "acting_as", "record"]

_actor: contextvars.ContextVar[str] = contextvars.ContextVar("ems_actor", default="cli")


def acting_as(username: str) -> contextvars.Token[str]:
    return _actor.set(username)


def record(
    kind: str,
    *,
    organisation: str | None = None,
    edge_id: str | None = None,
    target: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    from ems.authsvc.models import AuditEntry

    action = ActionRecord(
        kind, _actor.get(), time.time(), organisation, edge_id, target, before, after
    )
    AuditEntry.objects.create(
        at=datetime.fromtimestamp(action.at, UTC),
        kind=kind,
        actor=action.user,
        organisation=organisation or "",
        edge_id=edge_id or "",
        target=target or "",
        before=before,
        after=after,
    )
    record_action(action)


class ActorMiddleware:
    """Names the signed-in user as the actor of whatever the request changes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        token = acting_as(str(user.username))
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)
