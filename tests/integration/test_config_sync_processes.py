"""Config sync across real ``ems cloud`` and ``ems edge`` processes (DESIGN 16):
a new controller parameter stored through the API is applied between cycles and
seen in telemetry; a config the schema refuses is not stored; one that passes the
schema but fails on the edge is rejected by the edge, the old one still running;
an edge that was offline gets the newest version when it reconnects; rollback; devices
added and removed live, and a real device that does not answer refused."""

from __future__ import annotations

import asyncio
import copy
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from websockets.asyncio.client import ClientConnection

from ems.edge.config import demo_config_path
from support.site import CloudSite, next_of

TARGET = "self_consumption/TargetGridW"
DEMO: dict[str, Any] = yaml.safe_load(demo_config_path().read_text("utf-8"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudSite]:
    site = CloudSite(tmp_path_factory.mktemp("cloud-config-sync"))
    site.create_accounts(("site-1",))
    site.create_user("ada", "admin", ("*",))
    site.create_user("val", "viewer", ("site-2",))  # granted another edge only
    try:
        site.start_cloud()
        site.start_edge("site-1")
        asyncio.run(site.first_telemetry())
        yield site
    finally:
        site.stop()


def config_text(target_grid_w: float, **sc_params: Any) -> str:
    doc = copy.deepcopy(DEMO)
    [sc] = [c for c in doc["controllers"] if c["id"] == "self_consumption"]
    sc["params"] = {**sc["params"], "target_grid_w": target_grid_w, **sc_params}
    return yaml.safe_dump(doc)


def with_broken_device() -> str:
    """A real device whose driver cannot be made on the edge (no such Modbus template)."""
    doc = yaml.safe_load(config_text(300))
    doc["devices"].append(
        {
            "id": "battery_2",
            "profile": "battery",
            "driver": "modbus_tcp",
            "params": {"host": "127.0.0.1", "port": 5020, "template": "no_such_template"},
        }
    )
    return yaml.safe_dump(doc)


def api(site: CloudSite, method: str, path: str, user: str = "ada", **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {site.token(user)}"}
    return httpx.request(method, site.http(path), headers=headers, timeout=10, **kw)


async def watch(site: CloudSite) -> ClientConnection:
    ws = await site.ui("ada")
    await ws.send(json.dumps({"type": "subscribe", "edge_id": "site-1"}))
    return ws


async def target_reported(ws: ClientConnection, target_w: float) -> None:
    """Telemetry until the edge reports ``target_w``."""
    while True:
        frame = await next_of(ws, "telemetry", timeout_s=20)
        sample = frame["channels"].get(TARGET)
        if sample is not None and sample["v"] == target_w:
            return


async def verdict(ws: ClientConnection, version: int) -> dict[str, Any]:
    while True:
        frame = await next_of(ws, "config_status", timeout_s=20, version=version)
        if frame["status"] in ("applied", "rejected"):
            return frame


def test_a_config_the_schema_refuses_is_not_stored(site: CloudSite) -> None:
    r = api(site, "PUT", "/api/edges/site-1/config", json={"yaml": config_text("lots")})
    assert r.status_code == 422
    body = r.json()
    assert body["reason"] == "invalid_config"
    assert body["field"] == "controllers[0].params.target_grid_w"
    assert api(site, "GET", "/api/edges/site-1/config").json()["history"] == []
    forbidden = api(site, "PUT", "/api/edges/site-1/config", user="olga", json={"yaml": "x"})
    assert forbidden.status_code == 403
    other = api(site, "GET", "/api/edges/site-1/config", user="val")
    assert (other.status_code, other.json()["reason"]) == (404, "unknown_edge")


@pytest.mark.asyncio
async def test_pushed_applied_rejected_offline_and_rolled_back(site: CloudSite) -> None:
    ws = await watch(site)
    try:
        r = api(site, "PUT", "/api/edges/site-1/config", json={"yaml": config_text(300)})
        assert r.status_code == 201, r.text
        assert r.json()["version"] == 1
        assert (await verdict(ws, 1))["status"] == "applied"
        await target_reported(ws, 300)

        broken = config_text(900, battery="battery_9")  # the schema's shape, no such device
        r = api(site, "PUT", "/api/edges/site-1/config", json={"yaml": broken})
        assert r.status_code == 201, "the cloud's schema check passes it"
        rejected = await verdict(ws, 2)
        assert (rejected["status"], rejected["reason"]) == ("rejected", "build_failed")
        assert "battery_9" in rejected["detail"]
        await target_reported(ws, 300)  # version 1 still runs

        r = api(site, "PUT", "/api/edges/site-1/config", json={"yaml": with_broken_device()})
        assert r.status_code == 201
        rejected = await verdict(ws, 3)
        assert (rejected["status"], rejected["reason"]) == ("rejected", "build_failed")
        assert "devices[4].params.template" in rejected["detail"]
        await target_reported(ws, 300)
    finally:
        await ws.close()
    listing = api(site, "GET", "/api/edges/site-1/config").json()
    assert [(v["version"], v["status"]) for v in listing["history"]] == [
        (3, "rejected"),
        (2, "rejected"),
        (1, "applied"),
    ]
    assert listing["applied"] == 1

    site.edges["site-1"].stop()
    r = api(site, "PUT", "/api/edges/site-1/config", json={"yaml": config_text(150)})
    assert r.status_code == 201 and r.json()["status"] == "stored", "nobody to push it to"
    site.start_edge("site-1")  # starts from version 1 (persisted), reports it, gets 4
    ws = await watch(site)
    try:
        await target_reported(ws, 150)
        r = api(site, "POST", "/api/edges/site-1/config/rollback", json={"version": 1})
        assert r.status_code == 201, r.text
        assert (r.json()["version"], r.json()["rollback_of"]) == (5, 1)
        assert (await verdict(ws, 5))["status"] == "applied"
        await target_reported(ws, 300)
    finally:
        await ws.close()
    listing = api(site, "GET", "/api/edges/site-1/config").json()
    assert listing["applied"] == 5
    assert listing["history"][1]["status"] == "applied", "version 4 applied on reconnect"


def with_devices(*extra: dict[str, Any]) -> str:
    doc = yaml.safe_load(config_text(300, battery="battery_1"))  # a second one may come
    doc["devices"].extend(extra)
    return yaml.safe_dump(doc)


PV_2 = {"id": "pv_2", "profile": "pv_inverter", "simulator": "pv_inverter"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


async def channel_reported(ws: ClientConnection, address: str, present: bool = True) -> None:
    """Telemetry until ``address`` is (or is no longer) in a frame."""
    while True:
        frame = await next_of(ws, "telemetry", timeout_s=20)
        if (address in frame["channels"]) == present:
            return


@pytest.mark.asyncio
async def test_devices_are_added_and_removed_live_and_a_dead_one_is_refused(
    site: CloudSite,
) -> None:
    """Runs after the test above (versions 1-5 exist)."""
    ws = await watch(site)
    try:
        r = api(site, "PUT", "/api/edges/site-1/config", json={"yaml": with_devices(PV_2)})
        assert r.status_code == 201, r.text
        version = r.json()["version"]
        assert (await verdict(ws, version))["status"] == "applied"
        await channel_reported(ws, "pv_2/ActivePower")

        dead = {
            "id": "battery_9",
            "profile": "battery",
            "driver": "modbus_tcp",
            "params": {
                "host": "127.0.0.1",
                "port": closed_port(),
                "template": "generic_battery",
                "timeout_s": 0.2,
                "retries": 0,
            },
        }
        r = api(site, "PUT", "/api/edges/site-1/config", json={"yaml": with_devices(PV_2, dead)})
        assert r.status_code == 201, r.text
        rejected = await verdict(ws, version + 1)
        assert (rejected["status"], rejected["reason"]) == ("rejected", "device_not_ready")
        assert "battery_9" in rejected["detail"]
        await channel_reported(ws, "pv_2/ActivePower")  # the old config still runs
        frame = await next_of(ws, "telemetry", timeout_s=20)
        assert not any(a.startswith("battery_9/") for a in frame["channels"])

        r = api(site, "PUT", "/api/edges/site-1/config", json={"yaml": config_text(300)})
        assert (await verdict(ws, version + 2))["status"] == "applied"
        await channel_reported(ws, "pv_2/ActivePower", present=False)
    finally:
        await ws.close()
