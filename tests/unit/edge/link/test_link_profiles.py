"""Profiles at start: from the cloud (and cached), else the cache, else built in."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from link_fakes import builtin_documents

from ems.edge.config import CloudConfig, load_edge_config
from ems.edge.link import fetch_profiles, load_profiles_for_start
from ems.profiles import builtin_profiles

BASE = "http://cloud.test:8000"
Handler = Callable[[httpx.Request], httpx.Response]


def serving(documents: dict[str, Any], seen: list[str] | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(str(request.url))
        if request.url.path != "/api/profiles":
            return httpx.Response(404)
        return httpx.Response(200, json={"profiles": documents})

    return handle


def down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def failing(status: int) -> Handler:
    return lambda request: httpx.Response(status, text="oops")


async def fetch(handler: Handler, cache: Path, **kw: Any) -> tuple[dict[str, Any], str]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await fetch_profiles(BASE, cache, client, **kw)


def with_battery_capacity(max_w: float) -> dict[str, Any]:
    """The built-in documents with a battery setpoint range the built-ins do not have."""
    docs = builtin_documents()
    docs["battery"]["actions"]["set_active_power"]["value"]["max"] = max_w
    return docs


@pytest.mark.asyncio
async def test_profiles_from_the_cloud_are_used_and_cached(tmp_path: Path) -> None:
    seen: list[str] = []
    profiles, source = await fetch(serving(with_battery_capacity(4321.0), seen), tmp_path)
    assert source == "cloud"
    assert seen == [f"{BASE}/api/profiles"]
    assert profiles["battery"].actions["set_active_power"].value.max == 4321.0
    cached = tmp_path / "profiles"
    assert sorted(p.name for p in cached.iterdir()) == [
        "battery.json",
        "grid_meter.json",
        "load_meter.json",
        "pv_inverter.json",
    ]  # no temporary files left behind
    battery = json.loads((cached / "battery.json").read_text("utf-8"))
    assert battery["actions"]["set_active_power"]["value"]["max"] == 4321.0


@pytest.mark.asyncio
async def test_cloud_down_uses_the_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    await fetch(serving(with_battery_capacity(4321.0)), tmp_path)
    with caplog.at_level(logging.WARNING, logger="ems.edge.link"):
        profiles, source = await fetch(down, tmp_path)
    assert source == "cache"
    assert profiles["battery"].actions["set_active_power"].value.max == 4321.0
    assert "ConnectError" in caplog.text


@pytest.mark.asyncio
async def test_no_cache_falls_back_to_the_builtin_profiles(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ems.edge.link"):
        profiles, source = await fetch(down, tmp_path)
    assert source == "builtin"
    assert profiles == builtin_profiles()
    assert "built-in" in caplog.text


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [404, 500, 503])
async def test_http_errors_fall_back(tmp_path: Path, status: int) -> None:
    await fetch(serving(builtin_documents()), tmp_path)
    _, source = await fetch(failing(status), tmp_path)
    assert source == "cache"


@pytest.mark.asyncio
async def test_an_invalid_profile_is_refused_whole_and_the_cache_kept(tmp_path: Path) -> None:
    await fetch(serving(with_battery_capacity(4321.0)), tmp_path)
    broken = builtin_documents()
    del broken["pv_inverter"]["channels"]
    profiles, source = await fetch(serving(broken), tmp_path)
    assert source == "cache"
    assert profiles["battery"].actions["set_active_power"].value.max == 4321.0
    cached = json.loads((tmp_path / "profiles" / "pv_inverter.json").read_text("utf-8"))
    assert "channels" in cached  # the bad copy never replaced the good one


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [{"profiles": {"../../evil": {}}}, {"profiles": {}}, {"nope": 1}, [1, 2]],
)
async def test_malformed_answers_are_refused(tmp_path: Path, body: object) -> None:
    handler: Handler = lambda request: httpx.Response(200, json=body)  # noqa: E731
    _, source = await fetch(handler, tmp_path)
    assert source == "builtin"
    assert not (tmp_path / "profiles").exists()


@pytest.mark.asyncio
async def test_a_type_the_site_needs_missing_from_the_cloud_falls_back(tmp_path: Path) -> None:
    partial = builtin_documents()
    del partial["load_meter"]
    _, source = await fetch(serving(partial), tmp_path, required={"battery", "load_meter"})
    assert source == "builtin"


@pytest.mark.asyncio
async def test_types_the_cloud_stopped_serving_leave_the_cache(tmp_path: Path) -> None:
    await fetch(serving(builtin_documents()), tmp_path)
    fewer = builtin_documents()
    del fewer["grid_meter"]
    await fetch(serving(fewer), tmp_path)
    assert not (tmp_path / "profiles" / "grid_meter.json").exists()


@pytest.mark.asyncio
async def test_start_profiles_follow_the_configured_cloud(tmp_path: Path) -> None:
    config = load_edge_config(None)
    seen: list[str] = []
    transport = httpx.MockTransport(serving(with_battery_capacity(1111.0), seen))
    async with httpx.AsyncClient(transport=transport) as client:
        _, standalone = await load_profiles_for_start(config, tmp_path, client)
        profiles, source = await load_profiles_for_start(
            config, tmp_path, client, url="ws://cloud.test:8000"
        )
        configured = config.model_copy(update={"cloud": CloudConfig(url="https://c.test")})
        await load_profiles_for_start(configured, tmp_path, client)
    assert standalone == "builtin"
    assert source == "cloud"
    assert profiles["battery"].actions["set_active_power"].value.max == 1111.0
    assert seen == ["http://cloud.test:8000/api/profiles", "https://c.test/api/profiles"]
