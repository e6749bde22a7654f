"""``POST/GET/DELETE /api/reports/subscriptions``: a user subscribes a granted site to its
daily, weekly or monthly report by e-mail.

Any signed-in role may subscribe a site it is granted; the listing shows the
subscriptions of granted sites only, with each one's delivery status; an
unknown or ungranted subscription or site answers 404 (as every ``/api``
route does for what the user may not see). Bad bodies answer 422 naming the
field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from ems.cloud.api import no_unknown_query_params
from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.report_mail.mailer import ReportMailer
from ems.cloud.report_mail.model import NewSubscription
from ems.cloud.report_mail.store import SubscriptionStore

__all__ = ["subscription_router"]


def subscription_router(
    mailer: ReportMailer,
    store: SubscriptionStore,
    verify: Callable[[str], Awaitable[Claims]],
) -> APIRouter:
    router = APIRouter(
        prefix="/api/reports/subscriptions", dependencies=[Depends(no_unknown_query_params)]
    )

    async def bearer(request: Request) -> Claims:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "bearer token required", {"WWW-Authenticate": "Bearer"})
        try:
            return await verify(token)
        except AuthError as exc:
            raise HTTPException(401, exc.reason, {"WWW-Authenticate": "Bearer"}) from None

    signed_in = Depends(bearer)

    @router.post("", status_code=201, summary="Subscribe a site to its report by e-mail")
    async def create(body: NewSubscription, user: Claims = signed_in) -> dict[str, Any]:
        if not user.may_access(body.edge_id):
            raise HTTPException(404, f"no edge {body.edge_id!r}")
        sub = await mailer.subscribe(body, user.username)
        return sub.as_json()

    @router.get("", summary="Subscriptions of the sites the user is granted, with status")
    async def listing(user: Claims = signed_in) -> list[dict[str, Any]]:
        return [s.as_json() for s in await store.all() if user.may_access(s.edge_id)]

    @router.delete("/{subscription_id}", status_code=204, summary="Unsubscribe")
    async def delete(subscription_id: str, user: Claims = signed_in) -> Response:
        found = [s for s in await store.all() if s.subscription_id == subscription_id]
        if not found or not user.may_access(found[0].edge_id):
            raise HTTPException(404, f"no subscription {subscription_id!r}")
        await store.delete(subscription_id)
        return Response(status_code=204)

    return router
