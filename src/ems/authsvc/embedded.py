"""The auth service in the cloud's own process (``EMS_AUTH_BACKEND=embedded``, ``ems demo``).

Fulfils the cloud's :class:`ems.cloud.auth.port.InProcessAuth` (the cloud loads
this module by name, so that it never imports Django itself): the JWKS and the
edge-key check, plus what only a database at hand can answer: ``/auth`` to
mount, revocations read back from the database, the audit entries, the
recipients of alarm e-mails.

Django's ORM is synchronous and refuses to run on a thread with an event loop:
every call runs on a worker thread.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ems.authsvc import api, bootstrap, revocation
from ems.authsvc.asgi import asgi_app
from ems.cloud.auth.port import AuditQuery

__all__ = ["EmbeddedAuth", "read_audit_entries"]

#: Revocations older than the access-token lifetime plus this margin concern
#: only expired tokens [s].
_HORIZON_MARGIN_S = 60.0


class EmbeddedAuth:
    """Configures the auth service in this process (once; see :func:`bootstrap.configure`)
    on ``data_dir`` or ``database_url``, and publishes revocations on ``redis_url``
    (``None``: the embedded store of this process)."""

    def __init__(self, data_dir: Path, database_url: str | None, redis_url: str | None) -> None:
        # The app may be built from inside a running event loop (tests, the demo),
        # where Django refuses database work: set up on a worker.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(bootstrap.configure, data_dir, database_url).result()
        # Logout and revocations are published where this process's cloud listens.
        revocation.use_redis(redis_url)

    async def jwks(self) -> dict[str, Any]:
        return await asyncio.to_thread(api.jwks)

    async def check_edge_key(self, edge_id: str, api_key: str) -> bool:
        return await asyncio.to_thread(api.verify_edge_key, edge_id, api_key)

    async def aclose(self) -> None:
        return None

    def asgi_app(self) -> Any:
        return asgi_app()

    async def revocation_horizon_s(self) -> float:
        return bootstrap.token_policy().access_ttl_s + _HORIZON_MARGIN_S

    async def recent_revocations(self, since_s: float) -> dict[str, float]:
        return await asyncio.to_thread(_recent_revocations, since_s)

    async def audit_entries(self, query: AuditQuery) -> list[dict[str, Any]]:
        return await asyncio.to_thread(read_audit_entries, query)

    async def alarm_recipients(self, edge_id: str, role: str) -> list[str]:
        return await asyncio.to_thread(api.alarm_recipients, edge_id, role)


def _recent_revocations(since_s: float) -> dict[str, float]:
    """A safety net beside Redis: a revocation made by another process without it
    (``ems auth revoke-user`` beside ``ems demo``) still takes effect."""
    from django.db.models import Q

    from ems.authsvc.models import User

    since = datetime.fromtimestamp(since_s, UTC)
    out: dict[str, float] = {}
    for user in User.objects.filter(
        Q(sessions_revoked_at__gte=since) | Q(claims_changed_at__gte=since)
    ).only("username", "sessions_revoked_at", "claims_changed_at"):
        before = revocation.revoked_before_s(user)
        if before is not None:
            out[str(user.username)] = before
    return out


def read_audit_entries(query: AuditQuery) -> list[dict[str, Any]]:
    from django.db import close_old_connections

    from ems.authsvc.models import AuditEntry, Membership
    from ems.timefmt import to_rfc3339_us

    close_old_connections()
    rows = AuditEntry.objects.all()
    if query.admin_uid is not None:  # not a superuser: the organisations they administer
        orgs = Membership.objects.filter(user_id=query.admin_uid, role="admin").values_list(
            "organisation__name", flat=True
        )
        rows = rows.filter(organisation__in=list(orgs))
    if query.start is not None:
        rows = rows.filter(at__gte=query.start)
    if query.end is not None:
        rows = rows.filter(at__lt=query.end)
    if query.actor is not None:
        rows = rows.filter(actor=query.actor)
    if query.kind is not None:
        kind = query.kind
        rows = rows.filter(kind=kind) if "." in kind else rows.filter(kind__startswith=kind + ".")
    if query.edge_id is not None:
        rows = rows.filter(edge_id=query.edge_id)
    return [
        {
            "at": to_rfc3339_us(row.at.timestamp()),
            "kind": row.kind,
            "user": row.actor,
            "organisation": row.organisation or None,
            "edge_id": row.edge_id or None,
            "target": row.target or None,
            "before": row.before,
            "after": row.after,
        }
        for row in rows[: query.limit]
    ]
