"""``/api/alarm-rules`` and ``/api/alarms`` (DESIGN 14).

Any signed-in role reads (alarms and rules of the edges it is granted; others
answer 404 as if they did not exist); operators and admins acknowledge and
shelve; only admins create, change and delete rules. A refusal is
``{"reason": <stable code>, "field": <the culprit or null>, "detail": <text>}``
with 422 (a bad rule or body), 404 (no such alarm or rule), 403 (the role may
not) or 409 (the alarm's state forbids it).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from ems.alarms import Alarm, AlarmError, AlarmEvent, AlarmState
from ems.alarms.errors import ALARM_NOT_FOUND, INVALID_RULE, UNKNOWN_RULE
from ems.alarms.rules import RULE_ID_PATTERN
from ems.cloud.alarms.service import AlarmService, StateConflict
from ems.cloud.api import bearer_auth, no_unknown_query_params
from ems.cloud.auth.jwt import Claims
from ems.timefmt import parse_rfc3339, to_rfc3339

__all__ = ["alarm_router"]

_EDGE_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_ALARM_ID = r"^[A-Za-z0-9_.-]{1,200}$"
_COMMANDING = frozenset({"operator", "admin"})
_NOT_FOUND = frozenset({ALARM_NOT_FOUND, UNKNOWN_RULE})
_MAX_BODY_BYTES = 16 * 1024


class Refused(Exception):
    def __init__(self, status: int, reason: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail, self.field = status, reason, detail, field

    def response(self) -> JSONResponse:
        body = {"reason": self.reason, "field": self.field, "detail": self.detail}
        return JSONResponse(body, status_code=self.status)


def _refused(exc: AlarmError) -> Refused:
    if exc.reason in _NOT_FOUND:
        return Refused(404, exc.reason, exc.detail, exc.field)
    status = 422 if exc.reason in (INVALID_RULE, "unknown_channel", "rule_exists") else 409
    if exc.reason.startswith("shelve_") or exc.reason == "user_required":
        status = 422
    return Refused(status, exc.reason, exc.detail, exc.field)


def alarm_api(alarm: Alarm) -> dict[str, Any]:
    return {
        "alarm_id": alarm.alarm_id,
        "edge_id": alarm.edge_id,
        "rule": alarm.rule,
        "severity": alarm.severity.value,
        "state": alarm.state.value,
        "value": alarm.value,
        "since": None if alarm.since_s is None else to_rfc3339(alarm.since_s),
        "acked_by": alarm.acked_by,
        "shelved_by": alarm.shelved_by,
        "shelved_until": None
        if alarm.shelved_until_s is None
        else to_rfc3339(alarm.shelved_until_s),
        "shelve_reason": alarm.shelve_reason,
    }


def _event_api(event: AlarmEvent) -> dict[str, Any]:
    return {**event.as_frame(), "from": event.from_state.value, "by": event.by, "note": event.note}


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > _MAX_BODY_BYTES:
        raise Refused(413, "invalid_payload", f"body over {_MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw)
    except ValueError:
        raise Refused(422, "invalid_payload", "the body is not JSON") from None


def alarm_router(service: AlarmService, verify: Callable[[str], Awaitable[Claims]]) -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(no_unknown_query_params)])

    signed_in = Depends(bearer_auth(verify))

    def require(user: Claims, roles: frozenset[str]) -> None:
        if user.role not in roles:
            raise Refused(403, "forbidden", f"role {user.role!r} may not do this")

    async def visible_alarm(user: Claims, alarm_id: str) -> Alarm:
        alarm = await service.shared.get(alarm_id)
        if alarm is None or not user.may_access(alarm.edge_id):
            raise Refused(404, ALARM_NOT_FOUND, f"no alarm {alarm_id!r}", "alarm_id")
        return alarm

    def hide_invisible_rule(user: Claims, rule_id: str) -> None:
        # Another organisation's rule (or an edge not granted): as if there were none.
        rule = service.rules().get(rule_id)
        if rule is not None and not user.may_access(rule.edge_id):
            raise Refused(404, UNKNOWN_RULE, f"no alarm rule {rule_id!r}", "rule_id")

    async def guarded(work: Callable[[], Awaitable[dict[str, Any]]]) -> Any:
        try:
            return await work()
        except Refused as exc:
            return exc.response()
        except AlarmError as exc:
            return _refused(exc).response()
        except StateConflict as exc:
            return Refused(409, "conflict", str(exc)).response()

    # -- rules --------------------------------------------------------------------
    @router.get("/alarm-rules", summary="Alarm rules (of the edges granted to the user)")
    async def list_rules(
        *, user: Claims = signed_in, edge_id: Annotated[str | None, Query(pattern=_EDGE_ID)] = None
    ) -> dict[str, Any]:
        rules = service.rules()
        return {
            "rules": [
                {"rule_id": rule_id, **rule.model_dump(mode="json")}
                for rule_id, rule in sorted(rules.items())
                if user.may_access(rule.edge_id) and edge_id in (None, rule.edge_id)
            ]
        }

    async def write_rule(user: Claims, rule_id: str | None, request: Request) -> dict[str, Any]:
        require(user, frozenset({"admin"}))
        body = await _json_body(request)
        create = rule_id is None
        if create and isinstance(body, dict):
            rule_id = body.pop("rule_id", None) or f"r-{secrets.token_hex(4)}"
        if not isinstance(body, dict):
            raise Refused(422, INVALID_RULE, "a rule is a JSON object", None)
        edge_id = body.get("edge_id")
        if isinstance(edge_id, str) and not user.may_access(edge_id):
            raise Refused(404, "unknown_edge", f"no edge {edge_id!r}", "edge_id")
        if not create:
            hide_invisible_rule(user, str(rule_id))
        rule = await service.put_rule(str(rule_id), body, user.username, create=create)
        return {"rule_id": rule_id, **rule.model_dump(mode="json")}

    @router.post("/alarm-rules", summary="Create an alarm rule (admins)", status_code=201)
    async def create_rule(request: Request, user: Claims = signed_in) -> Any:
        return await guarded(lambda: write_rule(user, None, request))

    @router.put("/alarm-rules/{rule_id}", summary="Replace an alarm rule (admins)")
    async def replace_rule(
        request: Request,
        rule_id: Annotated[str, Path(pattern=RULE_ID_PATTERN)],
        user: Claims = signed_in,
    ) -> Any:
        return await guarded(lambda: write_rule(user, rule_id, request))

    @router.delete("/alarm-rules/{rule_id}", summary="Delete an alarm rule (admins)")
    async def delete_rule(
        rule_id: Annotated[str, Path(pattern=RULE_ID_PATTERN)], user: Claims = signed_in
    ) -> Any:
        async def work() -> dict[str, Any]:
            require(user, frozenset({"admin"}))
            hide_invisible_rule(user, rule_id)
            await service.delete_rule(rule_id, user.username)
            return {"rule_id": rule_id, "deleted": True}

        return await guarded(work)

    # -- alarms -------------------------------------------------------------------
    @router.get("/alarms", summary="Alarms, filtered by edge and state")
    async def list_alarms(
        *,
        user: Claims = signed_in,
        edge_id: Annotated[str | None, Query(pattern=_EDGE_ID)] = None,
        state: AlarmState | None = None,
    ) -> dict[str, Any]:
        found = await service.alarms(edge_id, state)
        return {"alarms": [alarm_api(a) for a in found if user.may_access(a.edge_id)]}

    @router.get("/alarms/{alarm_id}", summary="One alarm and its transitions (who, when)")
    async def one_alarm(
        alarm_id: Annotated[str, Path(pattern=_ALARM_ID)], user: Claims = signed_in
    ) -> Any:
        async def work() -> dict[str, Any]:
            alarm = await visible_alarm(user, alarm_id)
            history = await service.store.events(alarm_id, 1000)
            return {**alarm_api(alarm), "history": [e.to_api() for e in history]}

        return await guarded(work)

    @router.post("/alarms/{alarm_id}/ack", summary="Acknowledge (operators, admins)")
    async def ack(
        alarm_id: Annotated[str, Path(pattern=_ALARM_ID)], user: Claims = signed_in
    ) -> Any:
        async def work() -> dict[str, Any]:
            await visible_alarm(user, alarm_id)
            require(user, _COMMANDING)
            return _event_api(await service.acknowledge(alarm_id, user.username))

        return await guarded(work)

    @router.post("/alarms/{alarm_id}/shelve", summary="Shelve until a time (operators, admins)")
    async def shelve(
        request: Request,
        alarm_id: Annotated[str, Path(pattern=_ALARM_ID)],
        user: Claims = signed_in,
    ) -> Any:
        async def work() -> dict[str, Any]:
            await visible_alarm(user, alarm_id)
            require(user, _COMMANDING)
            body = await _json_body(request)
            if not isinstance(body, dict) or set(body) - {"until", "reason"}:
                raise Refused(422, "invalid_payload", "body: {until, reason} only")
            try:
                until_s = parse_rfc3339(body.get("until"))  # type: ignore[arg-type]
            except (ValueError, TypeError):
                raise Refused(
                    422, "invalid_payload", "until: an RFC 3339 UTC time", "until"
                ) from None
            reason = body.get("reason")
            event = await service.shelve(
                alarm_id, user.username, until_s, reason if isinstance(reason, str) else ""
            )
            return _event_api(event)

        return await guarded(work)

    @router.post("/alarms/{alarm_id}/unshelve", summary="Unshelve (operators, admins)")
    async def unshelve(
        alarm_id: Annotated[str, Path(pattern=_ALARM_ID)], user: Claims = signed_in
    ) -> Any:
        async def work() -> dict[str, Any]:
            await visible_alarm(user, alarm_id)
            require(user, _COMMANDING)
            return _event_api(await service.unshelve(alarm_id, user.username))

        return await guarded(work)

    return router
