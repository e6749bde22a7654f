"""As a new user would: ``ems demo``, a token, a live socket, a setpoint that is executed."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect

from support.processes import EmsProcess, free_port, running

PASSWORD = "demo-password-for-tests"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmsProcess, str]]:
    port = free_port()
    data = tmp_path_factory.mktemp("demo")
    with running(
        ["demo", "--port", str(port), "--data-dir", str(data)], {"EMS_DEMO_PASSWORD": PASSWORD}
    ) as proc:
        proc.wait_for("EMS demo on", 60)
        proc.wait_for("inventory", 60)  # the demo edge is connected
        base = f"127.0.0.1:{port}"
        asyncio.run(first_telemetry(base))  # commands are judged by the edge's latest report
        yield proc, base


async def first_telemetry(base: str) -> None:
    async with connect(f"ws://{base}/ws/ui?token={token(base, 'viewer')}") as ws:
        await ws.send(json.dumps({"type": "subscribe", "edge_id": "site-1"}))
        async for frame in frames(ws, 30):
            if frame["type"] == "telemetry":
                return
    raise AssertionError("no telemetry from the demo edge within 30 s")


def token(base: str, username: str) -> str:
    r = httpx.post(f"http://{base}/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    access: str = r.json()["access"]
    return access


@pytest_asyncio.fixture
async def operator(demo: tuple[EmsProcess, str]) -> AsyncIterator[ClientConnection]:
    _, base = demo
    async with connect(f"ws://{base}/ws/ui?token={token(base, 'operator')}") as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert hello["type"] == "auth_ok"
        assert (hello["user"], hello["role"]) == ("operator", "operator")
        yield ws


async def frames(ws: ClientConnection, timeout_s: float) -> AsyncIterator[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (remaining := deadline - loop.time()) > 0:
        try:
            yield json.loads(await asyncio.wait_for(ws.recv(), remaining))
        except TimeoutError:
            return


def command(value: float, edge_id: str = "site-1") -> dict[str, Any]:
    return {
        "type": "command",
        "command_id": str(uuid.uuid4()),
        "edge_id": edge_id,
        "device": "battery_1",
        "action": "set_active_power",
        "value": value,
        "issued_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


@pytest.mark.asyncio
async def test_live_telemetry_every_cycle(operator: ClientConnection) -> None:
    await operator.send(json.dumps({"type": "subscribe", "edge_id": "site-1"}))
    telemetry = []
    status = None
    async for frame in frames(operator, 4.5):
        if frame["type"] == "edge_status":
            status = frame
        elif frame["type"] == "telemetry":
            telemetry.append(frame)
    assert status is not None and status["online"] is True
    assert 3 <= len(telemetry) <= 6, "one frame per 1 s cycle"
    assert all("battery_1/Soc" in f["channels"] for f in telemetry)
    stamps = [datetime.fromisoformat(f["ts"]) for f in telemetry]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    assert all(0.5 <= g <= 1.5 for g in gaps), gaps


@pytest.mark.asyncio
async def test_setpoint_is_received_delivered_executed_and_followed(
    operator: ClientConnection,
) -> None:
    await operator.send(json.dumps({"type": "subscribe", "edge_id": "site-1"}))
    cmd = command(-2000)
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    await operator.send(json.dumps(cmd))
    statuses: list[tuple[str, float]] = []
    followed = False
    async for frame in frames(operator, 8):
        if frame["type"] == "ack" and frame["command_id"] == cmd["command_id"]:
            statuses.append((frame["status"], loop.time() - sent_at))
        elif (
            frame["type"] == "telemetry"
            and any(s == "executed" for s, _ in statuses)
            and frame["channels"]["battery_1/ActivePower"]["v"] == -2000
        ):
            followed = True
            break
    assert [s for s, _ in statuses] == ["received", "delivered", "executed"]
    assert statuses[-1][1] <= 2.0, "executed within two cycles"
    assert followed, "battery_1/ActivePower follows the setpoint"


@pytest.mark.asyncio
async def test_viewer_may_not_command(demo: tuple[EmsProcess, str]) -> None:
    _, base = demo
    async with connect(f"ws://{base}/ws/ui?token={token(base, 'viewer')}") as ws:
        await asyncio.wait_for(ws.recv(), 5)
        cmd = command(1000)
        await ws.send(json.dumps(cmd))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert (ack["type"], ack["status"], ack["reason"]) == ("ack", "rejected", "forbidden")


def test_history_endpoint_returns_stored_telemetry(demo: tuple[EmsProcess, str]) -> None:
    _, base = demo
    headers = {"Authorization": f"Bearer {token(base, 'viewer')}"}
    r = httpx.get(
        f"http://{base}/api/edges/site-1/telemetry",
        params={"channel": ["battery_1/Soc", "grid/ActivePower"], "max_points": 50},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["channels"]["battery_1/Soc"], "stored and read back"
    assert len(body["channels"]["grid/ActivePower"]) <= 50
    edges = httpx.get(f"http://{base}/api/edges", headers=headers).json()["edges"]
    assert [e["edge_id"] for e in edges] == ["site-1"]
    assert edges[0]["online"] is True


def test_data_dir_holds_the_embedded_stores(demo: tuple[EmsProcess, str], tmp_path: Path) -> None:
    proc, _ = demo
    data = Path(proc.args[proc.args.index("--data-dir") + 1])
    assert (data / "auth.sqlite3").exists()
    assert (data / "telemetry.sqlite3").exists()
    assert (data / "edge" / "site-1.key").exists()


def test_a_second_edge_joins_the_running_demo(demo: tuple[EmsProcess, str], tmp_path: Path) -> None:
    """``ems auth create-edge-key site-2 --data-dir D`` makes a key the running demo accepts,
    and ``ems auth grant viewer site-2`` lets the demo's viewer see it."""
    proc, base = demo
    data = proc.args[proc.args.index("--data-dir") + 1]
    created = subprocess.run(
        [sys.executable, "-m", "ems.cli", "auth", "create-edge-key", "site-2", "--data-dir", data],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    subprocess.run(
        [sys.executable, "-m", "ems.cli", "auth", "grant", "viewer", "site-2", "--data-dir", data],
        capture_output=True,
        timeout=60,
        check=True,
    )
    key_file = tmp_path / "site-2.key"
    key_file.write_text(created.stdout)
    with running(
        [
            "edge",
            "--cloud",
            f"http://{base}",
            "--edge-id",
            "site-2",
            "--api-key-file",
            str(key_file),
            "--data-dir",
            str(tmp_path),
        ]
    ) as edge:
        edge.wait_for("connected to", 60)
        proc.wait_for("edge site-2 inventory", 30)
        headers = {"Authorization": f"Bearer {token(base, 'viewer')}"}
        edges = httpx.get(f"http://{base}/api/edges", headers=headers).json()["edges"]
        assert {e["edge_id"]: e["online"] for e in edges} == {"site-1": True, "site-2": True}


@pytest.mark.asyncio
async def test_tokens_on_the_url_are_not_logged(demo: tuple[EmsProcess, str]) -> None:
    proc, base = demo
    access = token(base, "viewer")
    async with connect(f"ws://{base}/ws/ui?token={access}") as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"
    proc.wait_for("token=[redacted]", 10)
    assert access not in proc.output
    assert access.split(".")[2] not in proc.output
