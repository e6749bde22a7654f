"""HTTP API: profiles (public, edges fetch them at start), edges and their telemetry history,
command records.

Every route but the profiles takes a bearer access token; any role may read.
A user sees only the edges their token grants (``edges`` claim; admins see
all): ``/api/edges`` lists only those, and an edge, its telemetry, its command
list or one of its commands outside the grants answers 404, exactly as if it
did not exist, so the answer does not tell whether it does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import StringConstraints

from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.cluster import Cluster
from ems.cloud.hub import Hub
from ems.cloud.records import Recorder
from ems.cloud.shared import Inventories
from ems.cloud.telemetry import TelemetryStore
from ems.profiles import builtin_profile_documents

__all__ = ["bearer_auth", "build_router", "no_unknown_query_params"]

_MAX_RANGE_S = 366 * 86_400.0
# The wire contract's patterns (ems.protocol.types), so a malformed id is a 422, not a 404.
_EDGE_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_COMMAND_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_CHANNEL = r"^_?[a-z][a-z0-9]*(?:_[a-z0-9]+)*/[A-Z][A-Za-z0-9]*$"
_PROFILE_TYPE = r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$"
ChannelName = Annotated[str, StringConstraints(pattern=_CHANNEL, max_length=128)]


def _invalid_query(name: str, message: str) -> RequestValidationError:
    """A 422 in the shape the OpenAPI document promises (``detail``: a list of errors)."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": None}]
    )


def no_unknown_query_params(request: Request) -> None:
    """Refuse query parameters the route does not declare (a typo must not pass silently)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known: set[str] = set()
    todo = [dependant]
    while todo:  # the route's own parameters and those of its dependencies
        current = todo.pop()
        known.update(p.alias for p in current.query_params)
        todo.extend(current.dependencies)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name[:64]),
                    "msg": "Extra inputs are not permitted",
                    "input": None,
                }
                for name in unknown[:10]
            ]
        )


def bearer_auth(
    verify: Callable[[str], Awaitable[Claims]],
) -> Callable[[Request], Awaitable[Claims]]:
    """A dependency: the claims of the request's bearer access token, else 401."""

    async def bearer(request: Request) -> Claims:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "bearer token required", {"WWW-Authenticate": "Bearer"})
        try:
            return await verify(token)
        except AuthError as exc:
            raise HTTPException(401, exc.reason, {"WWW-Authenticate": "Bearer"}) from None

    return bearer


def build_router(
    hub: Hub,
    store: TelemetryStore,
    verify: Callable[[str], Awaitable[Claims]],
    *,
    records: Recorder,
    cluster: Cluster,
    inventories: Inventories,
) -> APIRouter:
    # Strict like the wire frames: a query parameter the endpoint does not take is a 422.
    router = APIRouter(prefix="/api", dependencies=[Depends(no_unknown_query_params)])

    bearer = bearer_auth(verify)

    # A default, not Annotated[...]: annotations are strings here (PEP 563) and FastAPI
    # resolves them in the module's namespace, where this function's bearer is not.
    signed_in = Depends(bearer)

    def not_found(edge_id: str) -> HTTPException:
        return HTTPException(404, f"no edge {edge_id!r}")

    @router.get("/profiles", summary="Every device profile, as its JSON document")
    async def profiles() -> dict[str, Any]:
        return {"profiles": builtin_profile_documents()}

    @router.get("/profiles/{profile_type}", summary="One device profile")
    async def profile(
        profile_type: Annotated[str, Path(pattern=_PROFILE_TYPE, max_length=64)],
    ) -> dict[str, Any]:
        document = builtin_profile_documents().get(profile_type)
        if document is None:
            raise HTTPException(404, f"no profile {profile_type!r}")
        return document

    @router.get("/edges", summary="Edges known to the cloud, online or not")
    async def edges(user: Claims = signed_in) -> dict[str, Any]:
        """Every edge granted to the user that any cloud process has heard from:
        ``online`` when some process holds its socket now, ``stale`` when it is
        online but silent for longer than ``EMS_EDGE_STALE_S``, ``last_seen``
        (RFC 3339 UTC, or null), its devices and its controllers (with the parameters
        ``set_controller`` may change)."""
        reported = await inventories.all()
        controllers = await inventories.all_controllers()
        known = [
            e
            for e in sorted(set(await cluster.known_edges()) | set(reported))
            if user.may_access(e)
        ]
        statuses = await cluster.statuses(known)
        out = []
        for edge_id in known:
            status = statuses[edge_id]
            devices = reported.get(edge_id)
            if devices is None:
                devices = [d.model_dump() for d in hub.inventory.get(edge_id, [])]
            out.append(
                {
                    "edge_id": edge_id,
                    "online": status.online,
                    "stale": status.stale,
                    "last_seen": status.last_seen,
                    "devices": devices,
                    "controllers": controllers.get(edge_id)
                    or [c.model_dump() for c in hub.controllers.get(edge_id, [])],
                }
            )
        return {"edges": out}

    @router.get("/edges/{edge_id}/telemetry", summary="History of channels, bucketed")
    async def telemetry(
        *,
        user: Claims = signed_in,
        edge_id: Annotated[str, Path(pattern=_EDGE_ID)],
        channel: Annotated[list[ChannelName], Query(min_length=1, max_length=50)],
        start: datetime | None = None,
        end: datetime | None = None,
        max_points: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> dict[str, Any]:
        if not user.may_access(edge_id):
            raise not_found(edge_id)
        end_s = end.timestamp() if end is not None else time.time()
        start_s = start.timestamp() if start is not None else end_s - 3600.0
        if start_s >= end_s:
            raise _invalid_query("start", "start must be before end")
        if end_s - start_s > _MAX_RANGE_S:
            raise _invalid_query("start", "range longer than a year")
        history = await store.history(edge_id, channel, start_s, end_s, max_points)
        return {
            "edge_id": edge_id,
            "start": start_s,
            "end": end_s,
            "channels": {name: [p._asdict() for p in points] for name, points in history.items()},
        }

    @router.get("/commands", summary="An edge's recent commands, newest first")
    async def commands(
        *,
        user: Claims = signed_in,
        edge_id: Annotated[str, Query(pattern=_EDGE_ID)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Up to ``limit`` commands sent to ``edge_id``, newest (by ``created_at``) first.

        Each has its current ``status`` (with ``reason`` and ``updated_at``) but
        not its history. Read from the database, merged with the Redis copy so
        that a command of the last moments (not yet in the database) is listed
        with its latest status. Any role may read, viewers included; 404 for an
        edge not granted to the user.
        """
        if not user.may_access(edge_id):
            raise not_found(edge_id)
        found = await records.list_for_edge(edge_id, limit)
        return {"edge_id": edge_id, "commands": [r.to_api(with_history=False) for r in found]}

    @router.get(
        "/commands/{command_id}",
        summary="One command: its current status and every status it went through",
    )
    async def command(
        *, user: Claims = signed_in, command_id: Annotated[str, Path(pattern=_COMMAND_ID)]
    ) -> dict[str, Any]:
        """The command's record; ``history`` lists ``{status, reason, detail, at}`` oldest
        first (times RFC 3339 UTC); ``trace`` lists every audit waypoint, the cloud's
        and those of the edge it was sent to, as ``{at, source, event, status,
        reason, detail}`` in time order (``source`` ``cloud`` or ``edge``; an edge's
        times are on its clock, which it keeps in sync with the cloud's). 404 when
        no command has this id, or when its edge is not granted to the user. Any
        role may read, viewers included.
        """
        record = await records.get(command_id)
        if record is None or not user.may_access(record.command.edge_id):
            raise HTTPException(404, f"no command {command_id!r}")
        out = record.to_api()
        out["trace"] = [entry.to_api() for entry in await records.trace(command_id)]
        return out

    return router
