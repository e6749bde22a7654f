"""The audit trail end to end, on a real ``ems demo`` process (DESIGN section 8).

* A command sent from a dashboard socket and executed shows its whole trace,
  cloud and edge waypoints in order, in ``GET /api/commands/{id}``.
* No token, API key or password ever reaches a log: every line the process
  writes (stderr, at DEBUG, and its JSON log file) is searched after a full
  flow of logins, sockets and refusals.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from support.processes import EmsProcess, free_port, running

PASSWORD = "audit-demo-password-7f3a9c"
WRONG_PASSWORD = "not-the-password-b51e2d"
BAD_TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJtYWxsb3J5In0.forged-signature-c0ffee42"
WRONG_KEY = "wrong-edge-key-for-the-audit-test-9d8e7f6a"


class Demo:
    def __init__(self, proc: EmsProcess, base: str, data: Path, log_file: Path) -> None:
        self.proc = proc
        self.base = base
        self.data = data
        self.log_file = log_file

    def token(self, username: str = "operator") -> str:
        r = httpx.post(
            f"http://{self.base}/auth/token", json={"username": username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        access: str = r.json()["access"]
        return access

    def every_log_line(self) -> str:
        """stderr and the log file, less the start-up banner ``ems demo`` prints on
        purpose (it shows the demo password to whoever started it; not a log line)."""
        output = self.proc.output
        start = output.index("EMS demo on")
        end = output.index("data:", start)
        end = output.index("\n", end)
        return output[:start] + output[end:] + "\n" + self.log_file.read_text("utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    port = free_port()
    data = tmp_path_factory.mktemp("audit-demo")
    log_file = data / "logs" / "cloud.log"
    with running(
        ["--log-level", "DEBUG", "demo", "--port", str(port), "--data-dir", str(data)],
        {"EMS_DEMO_PASSWORD": PASSWORD, "EMS_LOG_FILE": str(log_file)},
    ) as proc:
        proc.wait_for("EMS demo on", 60)
        proc.wait_for("inventory", 60)  # the demo edge is connected
        demo = Demo(proc, f"127.0.0.1:{port}", data, log_file)
        asyncio.run(_first_telemetry(demo))
        yield demo


async def _first_telemetry(demo: Demo) -> None:
    async with connect(f"ws://{demo.base}/ws/ui?token={demo.token('viewer')}") as ws:
        await ws.send(json.dumps({"type": "subscribe", "edge_id": "site-1"}))
        async with asyncio.timeout(30):
            while json.loads(await ws.recv())["type"] != "telemetry":
                pass


def _command(value: float) -> dict[str, Any]:
    return {
        "type": "command",
        "command_id": str(uuid.uuid4()),
        "edge_id": "site-1",
        "device": "battery_1",
        "action": "set_active_power",
        "value": value,
        "issued_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


async def _until_executed(demo: Demo, token: str, cmd: dict[str, Any]) -> list[str]:
    statuses: list[str] = []
    async with connect(f"ws://{demo.base}/ws/ui?token={token}") as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"
        await ws.send(json.dumps(cmd))
        async with asyncio.timeout(15):
            while "executed" not in statuses:
                frame = json.loads(await ws.recv())
                if frame["type"] == "ack" and frame["command_id"] == cmd["command_id"]:
                    statuses.append(frame["status"])
                    assert frame["status"] not in ("rejected", "failed"), frame
    return statuses


async def _trace_until(demo: Demo, token: str, command_id: str, last_event: str) -> dict[str, Any]:
    """The command's record once its trace holds ``last_event`` (the edge's records
    follow its acks on the socket, so they may land a moment after ``executed``)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://{demo.base}", headers=headers) as client:
        async with asyncio.timeout(10):
            while True:
                r = await client.get(f"/api/commands/{command_id}")
                assert r.status_code == 200, r.text
                body: dict[str, Any] = r.json()
                if any(t["event"] == last_event for t in body["trace"]):
                    return body
                await asyncio.sleep(0.1)  # polling the API: the condition is in another process


def _subsequence(wanted: list[tuple[str, str | None]], trace: list[dict[str, Any]]) -> bool:
    steps = iter((t["event"], t["status"]) for t in trace)
    return all(
        any(
            event == w_event and (w_status is None or status == w_status) for event, status in steps
        )
        for w_event, w_status in wanted
    )


@pytest.mark.asyncio
async def test_an_executed_command_shows_cloud_and_edge_waypoints_in_order(demo: Demo) -> None:
    token = demo.token()
    cmd = _command(-1500)
    assert await _until_executed(demo, token, cmd) == ["received", "delivered", "executed"]
    body = await _trace_until(demo, token, cmd["command_id"], "controller.executed")
    trace = body["trace"]
    wanted: list[tuple[str, str | None]] = [
        ("cloud.received", None),
        ("cloud.sent", None),
        ("edge.received", None),
        ("edge.request_written", None),
        ("controller.executed", "executed"),
        ("cloud.acked", "executed"),
    ]
    assert _subsequence(wanted, trace), json.dumps(trace, indent=1)
    assert [t["at"] for t in trace] == sorted(t["at"] for t in trace)
    sources = {t["event"].split(".")[0]: t["source"] for t in trace}
    assert sources == {"cloud": "cloud", "edge": "edge", "controller": "edge"}
    # The status history is still there, as before.
    assert [h["status"] for h in body["history"]] == ["received", "delivered", "executed"]
    # The same waypoints went to the cloud's JSON log file, correlated by command_id.
    lines = [json.loads(line) for line in demo.log_file.read_text("utf-8").splitlines()]
    events = {
        rec["event"]
        for rec in lines
        if rec.get("logger") == "ems.audit" and rec.get("command_id") == cmd["command_id"]
    }
    assert {"cloud.received", "cloud.sent", "edge.request_written", "controller.executed"} <= (
        events
    )


async def _close_code(url: str, first: dict[str, Any] | None = None) -> int | None:
    """How the cloud closes a socket opened at ``url`` (after sending ``first``)."""
    try:
        async with connect(url) as ws:
            if first is not None:
                await ws.send(json.dumps(first))
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as closed:
        return None if closed.rcvd is None else closed.rcvd.code
    return None


@pytest.mark.asyncio
async def test_tokens_keys_and_passwords_never_reach_a_log(demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=f"http://{demo.base}") as http:
        # A login and a refresh token; a failed login.
        r = await http.post("/auth/token", json={"username": "operator", "password": PASSWORD})
        assert r.status_code == 200
        access, refresh = r.json()["access"], r.json()["refresh"]
        failed = await http.post(
            "/auth/token", json={"username": "operator", "password": WRONG_PASSWORD}
        )
        assert failed.status_code in (400, 401)
        # The token on a socket URL (with a command), and as a bearer header.
        await _until_executed(demo, access, _command(-500))
        api = await http.get("/api/edges", headers={"Authorization": f"Bearer {access}"})
        assert api.status_code == 200
        # A forged token on the URL and as a header: refused.
        assert await _close_code(f"ws://{demo.base}/ws/ui?token={BAD_TOKEN}") == 4401
        bad_api = await http.get("/api/edges", headers={"Authorization": f"Bearer {BAD_TOKEN}"})
        assert bad_api.status_code == 401
    # The token in a first auth frame (uvicorn logs the ends of every frame at DEBUG).
    async with connect(f"ws://{demo.base}/ws/ui") as ws:
        await ws.send(json.dumps({"type": "auth", "token": access}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"
    # An edge with a wrong key: refused.
    wrong_edge = {
        "type": "auth",
        "edge_id": "site-1",
        "api_key": WRONG_KEY,
        "edge_time": datetime.now(UTC).isoformat(),
    }
    assert await _close_code(f"ws://{demo.base}/ws/edge", wrong_edge) == 4401
    demo.proc.wait_for("refused", 10)  # the refusal itself is logged, without the key

    key = (demo.data / "edge" / "site-1.key").read_text("utf-8").strip()  # the demo edge's
    logs = demo.every_log_line()
    assert "ems.audit" in logs and "DEBUG" in logs.upper()  # the capture did capture
    secrets = {
        "access token": access,
        "refresh token": refresh,
        "forged token": BAD_TOKEN,
        "edge API key": key,
        "wrong API key": WRONG_KEY,
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
    }
    for name, secret in secrets.items():
        # Whole, and the parts a truncated debug line or a split JWT would show.
        for part in {secret, secret[:12], secret[-12:], *secret.split(".")[1:]}:
            if len(part) >= 12:
                assert part not in logs, f"{name} ({part[:6]}…) appears in a log"


def _create_edge_key(data: Path, edge_id: str) -> str:
    command = [sys.executable, "-m", "ems.cli", "auth", "create-edge-key", edge_id]
    done = subprocess.run(
        [*command, "--data-dir", str(data)], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


@pytest.mark.asyncio
async def test_an_edge_cannot_write_into_another_edges_trace(demo: Demo) -> None:
    """site-2 (its own valid key) names a site-1 command in its audit frame: refused
    and audited; a clock ping is answered with the server's time."""
    key = await asyncio.to_thread(_create_edge_key, demo.data, "site-2")
    token = demo.token()
    victim = _command(-700)
    await _until_executed(demo, token, victim)
    forged = {
        "id": str(uuid.uuid4()),
        "seq": 0,
        "command_id": victim["command_id"],
        "event": "controller.executed",
        "status": "executed",
        "detail": "forged by site-2",
        "at": datetime.now(UTC).isoformat(),
    }
    async with connect(f"ws://{demo.base}/ws/edge") as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "auth",
                    "edge_id": "site-2",
                    "api_key": key,
                    "edge_time": datetime.now(UTC).isoformat(),
                }
            )
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"
        sent = datetime.now(UTC)
        await ws.send(json.dumps({"type": "clock_ping", "edge_time": sent.isoformat()}))
        pong = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert pong["type"] == "clock_pong"
        assert datetime.fromisoformat(pong["edge_time"]) == sent  # echoed to the microsecond
        assert abs((datetime.fromisoformat(pong["server_time"]) - sent).total_seconds()) < 5
        await ws.send(json.dumps({"type": "audit", "records": [forged]}))
        # Too many records in one frame: an error, and the socket stays usable.
        await ws.send(json.dumps({"type": "audit", "records": [forged] * 101}))
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert (error["type"], error["code"]) == ("error", "invalid_payload")
        await ws.send(json.dumps({"type": "clock_ping", "edge_time": sent.isoformat()}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "clock_pong"
    body = await _trace_until(demo, token, victim["command_id"], "cloud.trace_refused")
    assert not any(t["detail"] == "forged by site-2" for t in body["trace"])
    refusal = next(t for t in body["trace"] if t["event"] == "cloud.trace_refused")
    assert refusal["source"] == "cloud" and refusal["reason"] == "forbidden"
