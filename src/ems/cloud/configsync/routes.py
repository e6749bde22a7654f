"""HTTP API of config sync: ``/api/edges/{edge_id}/config`` (DESIGN 16; admins).

An edge not granted to the user answers 404 exactly as an unknown one (the
grants' rule of :mod:`ems.cloud.api`); a granted edge but a role other than
admin answers 403. A refusal is ``{"reason", "field", "detail"}`` with a
stable reason: ``invalid_yaml``, ``invalid_config`` (``field`` names the
YAML field, as the edge's schema does), ``wrong_edge``, ``too_large``,
``unknown_version``; nothing is stored then.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ems.cloud.api import bearer_auth, no_unknown_query_params
from ems.cloud.auth.jwt import Claims
from ems.cloud.configsync.schema import MAX_YAML_CHARS, ConfigRefused
from ems.cloud.configsync.service import ConfigSync

__all__ = ["build_config_router"]

_EDGE_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_ADMIN = "admin"
# "config: controllers[0].params.x: must be ..." -> "controllers[0].params.x"
_FIELD = re.compile(r"^(?:config: )?([A-Za-z_][\w\[\].]*): ")


class ConfigBody(BaseModel):
    """The raw ``yaml`` text, or the ``document`` (the YAML as JSON, as the dashboard's
    form edits it, stored as YAML text): exactly one of them."""

    model_config = ConfigDict(extra="forbid")
    yaml: Annotated[str, Field(max_length=MAX_YAML_CHARS + 1)] | None = None
    document: dict[str, Any] | None = None
    comment: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ConfigBody:
        if (self.yaml is None) == (self.document is None):
            raise ValueError("give either yaml or document")
        return self

    def text(self) -> str:
        if self.yaml is not None:
            return self.yaml
        return yaml.safe_dump(self.document, sort_keys=False, allow_unicode=True)


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Annotated[int, Field(ge=1)]
    comment: Annotated[str, Field(max_length=500)] | None = None


def _refusal(status: int, reason: str, detail: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"reason": reason, "field": field, "detail": detail}, status_code=status)


def _refused(exc: ConfigRefused) -> JSONResponse:
    found = _FIELD.match(exc.detail)
    field = found.group(1) if found else None
    return _refusal(422, exc.reason, exc.detail, field)


def build_config_router(
    sync: ConfigSync, verify: Callable[[str], Awaitable[Claims]], *, history_limit: int = 50
) -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(no_unknown_query_params)])
    signed_in = Depends(bearer_auth(verify))

    def refusal_for(user: Claims, edge_id: str) -> JSONResponse | None:
        if not user.may_access(edge_id):
            return _refusal(404, "unknown_edge", f"no edge {edge_id!r}", "edge_id")
        if user.role != _ADMIN:
            return _refusal(403, "forbidden", f"role {user.role!r} may not manage configs")
        return None

    @router.get("/edges/{edge_id}/config", summary="An edge's config: newest and history")
    async def get_config(
        *,
        user: Claims = signed_in,
        edge_id: Annotated[str, Path(pattern=_EDGE_ID)],
        limit: Annotated[int, Query(ge=1, le=500)] = history_limit,
    ) -> Any:
        """``current``: the newest version with its YAML (null: none stored); ``applied``:
        the newest version the edge applied (null: none yet); ``history``: newest first,
        without the YAML (``GET .../config/{version}`` has it)."""
        refused = refusal_for(user, edge_id)
        if refused is not None:
            return refused
        history = await sync.store.history(edge_id, limit)
        applied = next((v.version for v in history if v.status == "applied"), None)
        current = None
        if history:
            current = history[0].to_api()
            current["document"] = yaml.safe_load(history[0].yaml)  # what the form edits
        return {
            "edge_id": edge_id,
            "current": current,
            "applied": applied,
            "history": [v.to_api(with_yaml=False) for v in history],
        }

    @router.get("/edges/{edge_id}/config/{version}", summary="One version of an edge's config")
    async def get_version(
        *,
        user: Claims = signed_in,
        edge_id: Annotated[str, Path(pattern=_EDGE_ID)],
        version: Annotated[int, Path(ge=1)],
    ) -> Any:
        refused = refusal_for(user, edge_id)
        if refused is not None:
            return refused
        found = await sync.store.get(edge_id, version)
        if found is None:
            return _refusal(404, "unknown_version", f"no version {version}", "version")
        return found.to_api()

    @router.put("/edges/{edge_id}/config", summary="Store and push a new config (admins)")
    async def put_config(
        *,
        user: Claims = signed_in,
        edge_id: Annotated[str, Path(pattern=_EDGE_ID)],
        body: ConfigBody,
    ) -> Any:
        """Validated with the edge's schema first: a refused config stores nothing."""
        refused = refusal_for(user, edge_id)
        if refused is not None:
            return refused
        try:
            stored = await sync.put(edge_id, body.text(), user.username, body.comment)
        except ConfigRefused as exc:
            return _refused(exc)
        return JSONResponse(stored.to_api(), status_code=201)

    @router.post(
        "/edges/{edge_id}/config/rollback",
        summary="Store an earlier version again as the newest, and push it (admins)",
    )
    async def rollback(
        *,
        user: Claims = signed_in,
        edge_id: Annotated[str, Path(pattern=_EDGE_ID)],
        body: RollbackBody,
    ) -> Any:
        refused = refusal_for(user, edge_id)
        if refused is not None:
            return refused
        try:
            stored = await sync.rollback(edge_id, body.version, user.username, body.comment)
        except ConfigRefused as exc:
            return _refused(exc)
        if stored is None:
            return _refusal(404, "unknown_version", f"no version {body.version}", "version")
        return JSONResponse(stored.to_api(), status_code=201)

    return router
