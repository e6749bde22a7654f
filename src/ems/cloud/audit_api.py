"""``GET /api/audit``: the user actions kept by the auth service (DESIGN 8, 16), for
admins, filtered by time range, user, kind and edge.

Commands (kind ``command``: who sent what to which device, with its current status)
come from the command records, the same as ``GET /api/commands``: for the edge
asked for, else for each of an organisation admin's edges (up to
:data:`MAX_EDGES_SCANNED`; a superuser names the edge).

An organisation's admin reads the entries of the organisations they administer
(looked up live in the auth database, so a membership taken away ends it at once);
a superuser reads every entry. An ``edge_id`` outside the user's edges answers 404,
as for an edge that does not exist. Needs the auth service configured in this
process (the cloud always embeds it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from ems.cloud.api import bearer_auth, no_unknown_query_params
from ems.cloud.auth.jwt import Claims
from ems.cloud.records.model import CommandRecord
from ems.timefmt import to_rfc3339_us

__all__ = ["MAX_EDGES_SCANNED", "audit_router"]

#: Edges whose commands one request reads when no ``edge_id`` is given.
MAX_EDGES_SCANNED = 100

#: The commands sent to an edge, newest first, at most ``limit``.
CommandSource = Callable[[str, int], Awaitable[list[CommandRecord]]]

_EDGE_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_KIND = r"^[a-z_]{1,20}(\.[a-z_]{1,20})?$"


def audit_router(
    verify: Callable[[str], Awaitable[Claims]], commands: CommandSource | None = None
) -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(no_unknown_query_params)])
    signed_in = Depends(bearer_auth(verify))

    @router.get("/audit", summary="User actions: who, what, when, before and after (admins)")
    async def audit(
        *,
        user: Claims = signed_in,
        start: datetime | None = None,
        end: datetime | None = None,
        actor: Annotated[str | None, Query(alias="user", max_length=150)] = None,
        kind: Annotated[str | None, Query(pattern=_KIND)] = None,
        edge_id: Annotated[str | None, Query(pattern=_EDGE_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> dict[str, Any]:
        """Newest first. ``kind``: ``grant.added`` or a whole family, ``grant``."""
        if user.role != "admin":
            raise HTTPException(403, f"role {user.role!r} may not read the audit")
        if edge_id is not None and not user.may_access(edge_id):
            raise HTTPException(404, f"no edge {edge_id!r}")
        entries = await asyncio.to_thread(_entries, user, start, end, actor, kind, edge_id, limit)
        if commands is not None and kind in (None, "command"):
            if edge_id is not None:
                edges = [edge_id]
            elif user.edges is not None:
                edges = sorted(user.edges)[:MAX_EDGES_SCANNED]
            else:
                edges = []
            for edge in edges:
                for record in await commands(edge, limit):
                    at = record.command.created_at
                    if (
                        (start is None or at >= start.timestamp())
                        and (end is None or at < end.timestamp())
                        and actor in (None, record.command.user)
                    ):
                        entries.append(_command_entry(record))
            entries.sort(key=lambda e: str(e["at"]), reverse=True)
        return {"entries": entries[:limit]}

    return router


def _entries(
    user: Claims,
    start: datetime | None,
    end: datetime | None,
    actor: str | None,
    kind: str | None,
    edge_id: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    from django.db import close_old_connections

    from ems.authsvc.models import AuditEntry, Membership

    close_old_connections()
    rows = AuditEntry.objects.all()
    if user.edges is not None:  # not a superuser: the organisations they administer
        orgs = Membership.objects.filter(user_id=user.uid, role="admin").values_list(
            "organisation__name", flat=True
        )
        rows = rows.filter(organisation__in=list(orgs))
    if start is not None:
        rows = rows.filter(at__gte=start)
    if end is not None:
        rows = rows.filter(at__lt=end)
    if actor is not None:
        rows = rows.filter(actor=actor)
    if kind is not None:
        rows = rows.filter(kind=kind) if "." in kind else rows.filter(kind__startswith=kind + ".")
    if edge_id is not None:
        rows = rows.filter(edge_id=edge_id)
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
        for row in rows[:limit]
    ]


def _command_entry(record: CommandRecord) -> dict[str, Any]:
    cmd = record.command
    return {
        "at": to_rfc3339_us(cmd.created_at),
        "kind": "command",
        "user": cmd.user,
        "organisation": None,
        "edge_id": cmd.edge_id,
        "target": cmd.command_id,
        "before": None,
        "after": {
            "device": cmd.device,
            "action": cmd.action,
            "value": cmd.value,
            "status": record.status,
            "reason": record.reason,
        },
    }
