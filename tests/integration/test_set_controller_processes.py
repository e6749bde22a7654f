"""set_controller across real ``ems cloud`` and ``ems edge`` processes: the demo site's
self-consumption target changed from a dashboard socket, executed, advertised,
refused when bad, and still in force after the edge process is restarted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from support.site import CloudSite, command, next_of

TARGET = "self_consumption/TargetGridW"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudSite]:
    site = CloudSite(tmp_path_factory.mktemp("cloud-set-controller"))
    site.create_accounts(("site-1",))
    try:
        site.start_cloud()
        site.start_edge("site-1")
        asyncio.run(site.first_telemetry())
        yield site
    finally:
        site.stop()


def set_target(target_w: Any, **changes: Any) -> dict[str, Any]:
    return command(
        device="self_consumption",
        action="set_controller",
        value={"target_grid_w": target_w},
        **changes,
    )


async def statuses(ws: ClientConnection, cid: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    while not out or out[-1][0] not in ("executed", "rejected", "failed"):
        ack = await next_of(ws, "ack", timeout_s=15, command_id=cid)
        out.append((ack["status"], ack["reason"]))
    return out


async def target_reported(ws: ClientConnection, target_w: float) -> None:
    """Telemetry until the edge reports ``target_w`` (a cycle's worth at most, usually)."""
    await ws.send(json.dumps({"type": "subscribe", "edge_id": "site-1"}))
    while True:
        frame = await next_of(ws, "telemetry", timeout_s=15)
        sample = frame["channels"].get(TARGET)
        if sample is not None and sample["v"] == target_w:
            return


def test_the_edge_advertises_its_controllers(site: CloudSite) -> None:
    r = httpx.get(
        site.http("/api/edges"), headers={"Authorization": f"Bearer {site.token('olga')}"}
    )
    [edge] = [e for e in r.json()["edges"] if e["edge_id"] == "site-1"]
    sc = next(c for c in edge["controllers"] if c["id"] == "self_consumption")
    assert [p["name"] for p in sc["params"]] == ["enabled", "target_grid_w"]


@pytest.mark.asyncio
async def test_changed_refused_and_kept_across_an_edge_restart(site: CloudSite) -> None:
    ws = await site.ui()
    try:
        good = set_target(-200)
        await ws.send(json.dumps(good))
        assert await statuses(ws, good["command_id"]) == [
            ("received", None),
            ("delivered", None),
            ("executed", None),
        ]
        await target_reported(ws, -200)
        bad = command(device="self_consumption", action="set_controller", value={"deadband_w": 10})
        await ws.send(json.dumps(bad))
        assert await statuses(ws, bad["command_id"]) == [("rejected", "unknown_param")]
    finally:
        await ws.close()

    site.edges["site-1"].stop()
    site.start_edge("site-1")  # a new process over the same data dir
    ws = await site.ui()
    try:
        await target_reported(ws, -200)
    finally:
        await ws.close()
