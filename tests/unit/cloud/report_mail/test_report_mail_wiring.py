"""The cloud's report-mail parts, built from its settings: the subscription routes, the
subscriptions kept in the data directory, and no mailer without EMS_SMTP_URL.

Built without the whole app: ``create_app`` configures the auth service (Django) for
its data directory, which a process does once, so a test of it in-process would depend
on which test configured Django first. The app itself, with these routes in its
OpenAPI document, is exercised by the security suite's real cloud processes
(``tests/security/test_org_isolation.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.report_mail.store import SQLITE_FILE
from ems.cloud.report_mail.wiring import build_report_mail
from ems.cloud.settings import CloudSettings


async def refuse_every_token(token: str) -> Claims:
    raise AuthError("invalid_token", "this test accepts no token")


@pytest.mark.asyncio
async def test_the_routes_the_store_and_no_mailer_without_smtp(tmp_path: Path) -> None:
    settings = CloudSettings(data_dir=tmp_path)
    reports: Any = object()  # not read: nothing is sent without SMTP
    parts = build_report_mail(settings, reports, {})
    assert parts.sending is False, "no EMS_SMTP_URL: the mailer does not run"
    app = FastAPI()
    app.include_router(parts.router(refuse_every_token))
    await parts.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://cloud"
        ) as c:
            r = await c.get("/api/reports/subscriptions")
            assert r.status_code == 401  # the route exists and wants a token
            paths = (await c.get("/openapi.json")).json()["paths"]
            assert "/api/reports/subscriptions" in paths
            assert "/api/reports/subscriptions/{subscription_id}" in paths
    finally:
        await parts.stop()
    assert (tmp_path / SQLITE_FILE).exists()
