"""The cloud app serves the subscription routes beside the energy report and keeps the
subscriptions in its data directory; a mailer without EMS_SMTP_URL does not run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ems.cloud.app import create_app
from ems.cloud.report_mail.store import SQLITE_FILE
from ems.cloud.settings import CloudSettings


@pytest.mark.asyncio
async def test_the_app_serves_subscriptions(tmp_path: Path, redis_url: str) -> None:
    settings = CloudSettings(data_dir=tmp_path, redis_url=redis_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        parts = app.state.parts
        assert parts is not None
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://cloud"
        ) as c:
            r = await c.get("/api/reports/subscriptions")
            assert r.status_code == 401  # the route exists and wants a token
            r = await c.get("/openapi.json")
            paths = r.json()["paths"]
            assert "/api/reports/subscriptions" in paths
            assert "/api/reports/subscriptions/{subscription_id}" in paths
            assert "/api/reports/energy" in paths
    assert (tmp_path / SQLITE_FILE).exists()
