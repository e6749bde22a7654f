"""The exported dashboard served at ``/`` after every other route."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from ems.cloud.static import DashboardSettings, default_dashboard_dir, mount_dashboard


def fake_build(root: Path) -> Path:
    (root / "site").mkdir(parents=True)
    (root / "index.html").write_text("<html>login page</html>", "utf-8")
    (root / "site" / "index.html").write_text("<html>site page</html>", "utf-8")
    (root / "404.html").write_text("<html>not here</html>", "utf-8")
    return root


def app_with_api() -> FastAPI:
    app = FastAPI()

    @app.get("/api/edges")
    async def edges() -> dict[str, list[str]]:
        return {"edges": []}

    return app


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = app_with_api()
    assert mount_dashboard(app, fake_build(tmp_path / "out"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cloud"
    ) as c:
        yield c


@pytest.mark.asyncio
async def test_serves_index_html_at_root(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert "login page" in r.text
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.asyncio
async def test_serves_a_page_with_its_query_string(client: httpx.AsyncClient) -> None:
    r = await client.get("/site/?id=site-1")
    assert r.status_code == 200
    assert "site page" in r.text


@pytest.mark.asyncio
async def test_routes_added_before_keep_priority(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/edges")
    assert r.status_code == 200
    assert r.json() == {"edges": []}


@pytest.mark.asyncio
async def test_unknown_path_is_the_exported_404_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/no/such/page")
    assert r.status_code == 404
    assert "not here" in r.text


def test_missing_build_mounts_nothing_and_says_how_to_build(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_with_api()
    routes = len(app.routes)
    with caplog.at_level(logging.WARNING, logger="ems.cloud.static"):
        assert not mount_dashboard(app, tmp_path / "nothing")
    assert len(app.routes) == routes
    assert "npm run build" in caplog.text


def test_directory_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMS_DASHBOARD_DIR", str(tmp_path))
    assert DashboardSettings().dashboard_dir == tmp_path
    monkeypatch.delenv("EMS_DASHBOARD_DIR")
    assert DashboardSettings().dashboard_dir == default_dashboard_dir()
    assert default_dashboard_dir().parts[-2:] == ("web", "out")
