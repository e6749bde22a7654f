"""``GET /api/audit``: the user actions kept by the auth service (DESIGN 8, 16), for
admins, filtered by time range, user, kind and edge.

Commands (kind ``command``: who sent what to which device, with its current status)
come from the command records, the same as ``GET /api/commands``: for the edge
asked for, else for each of an organisation admin's edges (up to
:data:`MAX_EDGES_SCANNED`; a superuser names the edge).

An organisation's admin reads the entries of the organisations they administer
(looked up live in the auth database, so a membership taken away ends it at once);
a superuser reads every entry. An ``edge_id`` outside the user's edges answers 404,
as for an edge that does not exist. The user actions need the auth service in
this process (``EMS_AUTH_BACKEND=embedded``); with an external one
(``EMS_AUTH_BACKEND=http``) the audit lists commands only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from ems.cloud.api import bearer_auth, no_unknown_query_params
from ems.cloud.auth.jwt import Claims
from ems.cloud.auth.port import AuditQuery
from ems.cloud.records.model import CommandRecord
from ems.timefmt import to_rfc3339_us

__all__ = ["MAX_EDGES_SCANNED", "audit_router"]

#: Edges whose commands one request reads when no ``edge_id`` is given.
MAX_EDGES_SCANNED = 100

#: The commands sent to an edge, newest first, at most ``limit``.
CommandSource = Callable[[str, int], Awaitable[list[CommandRecord]]]

#: The auth service's user actions matching a query, newest first.
AuthEntrySource = Callable[[AuditQuery], Awaitable[list[dict[str, Any]]]]

_EDGE_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_KIND = r"^[a-z_]{1,20}(\.[a-z_]{1,20})?$"


def audit_router(
    verify: Callable[[str], Awaitable[Claims]],
    commands: CommandSource | None = None,
    auth_entries: AuthEntrySource | None = None,
) -> APIRouter:
    """``auth_entries``: the auth service's own records, when it runs in this process
    (:class:`~ems.cloud.auth.port.InProcessAuth`); else only commands are listed."""
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
        entries: list[dict[str, Any]] = []
        if auth_entries is not None:
            query = AuditQuery(
                None if user.edges is None else user.uid, start, end, actor, kind, edge_id, limit
            )
            entries = await auth_entries(query)
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
