"""A cloud and its edges as real processes, and the clients that talk to them.

For integration tests and benchmarks: users and edge keys made with the
``ems auth`` commands, ``ems cloud`` and ``ems edge`` started with
:class:`~support.processes.EmsProcess`, a dashboard on ``/ws/ui`` and
hand-driven edges on ``/ws/edge`` speaking the wire protocol.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from support.processes import EmsProcess, free_port

__all__ = [
    "PASSWORD",
    "CloudSite",
    "command",
    "edge_ack",
    "edge_socket",
    "ems_cli",
    "next_of",
]

PASSWORD = "integration-Password-1"


def ems_cli(*args: str, data: Path, env: Mapping[str, str] | None = None) -> str:
    """Run one ``ems`` command to completion; returns its stdout (fails loudly)."""
    import os

    environment = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "ems.cli", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=environment,
    )
    if proc.returncode != 0:
        raise AssertionError(f"ems {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


@dataclass
class CloudSite:
    """One ``ems cloud`` process with an operator ``olga`` and a viewer ``vic``."""

    data: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    cloud: EmsProcess | None = None
    edges: dict[str, EmsProcess] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Where edges connect (``ems edge --cloud``)."""
        return f"http://{self.base}"

    def http(self, path: str) -> str:
        return f"http://{self.base}{path}"

    def ws(self, path: str) -> str:
        return f"ws://{self.base}{path}"

    def create_accounts(
        self, edge_ids: tuple[str, ...] = ("site-1", "site-2"), grants: tuple[str, ...] = ("*",)
    ) -> None:
        """Users ``olga`` (operator) and ``vic`` (viewer), granted ``grants`` (default every
        edge), and an API key for each of ``edge_ids``."""
        for name, role in (("olga", "operator"), ("vic", "viewer")):
            self.create_user(name, role, grants)
        for edge_id in edge_ids:
            key = ems_cli("auth", "create-edge-key", edge_id, data=self.data).strip()
            self.key_file(edge_id).write_text(key + "\n")

    def create_user(
        self, name: str, role: str, grants: tuple[str, ...] = (), email: str | None = None
    ) -> None:
        """A user with the password :data:`PASSWORD`, granted the edges ``grants``, with
        ``email`` for alarm mails if given."""
        edges = [arg for edge_id in grants for arg in ("--edge", edge_id)]
        mail = [] if email is None else ["--email", email]
        ems_cli(
            "auth",
            "create-user",
            name,
            "--role",
            role,
            "--password",
            PASSWORD,
            *mail,
            *edges,
            data=self.data,
        )

    def key_file(self, edge_id: str) -> Path:
        return self.data / f"{edge_id}.key"

    def key(self, edge_id: str) -> str:
        return self.key_file(edge_id).read_text().strip()

    def start_cloud(self) -> EmsProcess:
        self.cloud = EmsProcess(
            ["cloud", "--port", str(self.port), "--data-dir", str(self.data)], self.env
        )
        self.cloud.wait_for("Uvicorn running", 60)
        return self.cloud

    def start_edge(self, edge_id: str) -> EmsProcess:
        """A simulated site connected to this cloud; returns once its devices are known."""
        assert self.cloud is not None
        edge = EmsProcess(
            [
                "edge",
                "--cloud",
                f"http://{self.base}",
                "--edge-id",
                edge_id,
                "--api-key-file",
                str(self.key_file(edge_id)),
                "--data-dir",
                str(self.data / "edges" / edge_id),
            ]
        )
        self.edges[edge_id] = edge
        self.cloud.wait_for(f"edge {edge_id} inventory", 60)
        return edge

    def stop(self) -> None:
        for edge in self.edges.values():
            edge.stop()
        if self.cloud is not None:
            self.cloud.stop()

    def token(self, username: str) -> str:
        r = httpx.post(self.http("/auth/token"), json={"username": username, "password": PASSWORD})
        if r.status_code != 200:
            raise AssertionError(f"no token for {username}: {r.status_code} {r.text}")
        access: str = r.json()["access"]
        return access

    async def ui(self, username: str = "olga") -> ClientConnection:
        """A dashboard socket, authenticated."""
        ws = await connect(self.ws(f"/ws/ui?token={self.token(username)}"))
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if hello.get("type") != "auth_ok":
            raise AssertionError(f"not authenticated: {hello}")
        return ws

    async def first_telemetry(self, edge_id: str = "site-1") -> None:
        """Wait until the cloud forwards telemetry of ``edge_id`` (limits are then known)."""
        async with connect(self.ws(f"/ws/ui?token={self.token('vic')}")) as ws:
            await ws.send(json.dumps({"type": "subscribe", "edge_id": edge_id}))
            await next_of(ws, "telemetry", timeout_s=30)


async def next_of(
    ws: ClientConnection, kind: str, timeout_s: float = 5.0, **match: Any
) -> dict[str, Any]:
    """The next frame of ``kind`` (with matching fields), skipping every other frame."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        frame: dict[str, Any] = json.loads(
            await asyncio.wait_for(ws.recv(), deadline - loop.time())
        )
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


def command(**changes: Any) -> dict[str, Any]:
    """A dashboard command frame: battery_1 of site-1 to -1000 W unless changed."""
    frame: dict[str, Any] = {
        "type": "command",
        "command_id": str(uuid.uuid4()),
        "edge_id": "site-1",
        "device": "battery_1",
        "action": "set_active_power",
        "value": -1000,
        "issued_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    frame.update(changes)
    return frame


async def edge_ack(ws: ClientConnection, command_id: str, status: str) -> None:
    """A hand-driven edge's ack frame for ``command_id``, stamped now."""
    await ws.send(
        json.dumps(
            {
                "type": "ack",
                "command_id": command_id,
                "status": status,
                "at": datetime.now(UTC).isoformat(),
            }
        )
    )


async def edge_socket(site: CloudSite, edge_id: str, key: str) -> ClientConnection:
    """A hand-driven edge: connected, auth frame sent (read the answer yourself)."""
    ws = await connect(site.ws("/ws/edge"))
    await ws.send(
        json.dumps(
            {
                "type": "auth",
                "edge_id": edge_id,
                "api_key": key,
                "edge_time": datetime.now(UTC).isoformat(),
            }
        )
    )
    return ws
