"""A dashboard for the chaos run: a ``/ws/ui`` socket that reconnects by itself.

It signs in on its own cloud process, subscribes to the edge, keeps the
battery's latest limits from the live telemetry (to pick valid setpoints)
and hands every ack to ``on_ack``. When the socket closes (its cloud was
killed, the token expired) it signs in again after a short pause, for as
long as the run lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from support.site import PASSWORD, CloudSite

__all__ = ["Dashboard"]

log = logging.getLogger(__name__)

_RETRY_S = 0.5  # pause between reconnection attempts (a retry rate, not a synchronisation)
_AUTH_TIMEOUT_S = 5.0


class Dashboard:
    """One dashboard of ``user`` on ``site``, following ``edge_id``."""

    def __init__(
        self,
        name: str,
        site: CloudSite,
        user: str,
        edge_id: str,
        on_ack: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self.name = name
        self.site = site
        self.user = user
        self.edge_id = edge_id
        self._on_ack = on_ack
        self._ws: ClientConnection | None = None
        self.connected = asyncio.Event()
        self.connections = 0
        self.limits_w: tuple[float, float] | None = None  # (max charge, max discharge) [W]
        self.last_telemetry_s: float | None = None  # wall time a live frame last arrived
        self.edge_online: bool | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._session(stop)
            except (OSError, WebSocketException, TimeoutError, httpx.HTTPError, AssertionError):
                pass
            finally:
                self.connected.clear()
                self._ws = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _RETRY_S)

    async def send(self, frame: dict[str, Any]) -> bool:
        """Send a frame if connected; ``False`` if it could not be sent."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(frame))
        except (OSError, WebSocketException):
            return False
        return True

    async def close(self) -> None:
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def _session(self, stop: asyncio.Event) -> None:
        token = await _token(self.site, self.user)
        async with connect(self.site.ws(f"/ws/ui?token={token}"), open_timeout=5) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), _AUTH_TIMEOUT_S))
            if hello.get("type") != "auth_ok":
                raise AssertionError(f"dashboard {self.name} not signed in: {hello}")
            await ws.send(json.dumps({"type": "subscribe", "edge_id": self.edge_id}))
            self._ws = ws
            self.connections += 1
            self.connected.set()
            closer = asyncio.create_task(stop.wait())
            try:
                async for message in ws:
                    self._handle(json.loads(message))
                    if closer.done():
                        break
            finally:
                closer.cancel()

    def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ack":
            self._on_ack(self.name, frame)
        elif kind == "telemetry" and frame.get("edge_id") == self.edge_id:
            self.last_telemetry_s = time.time()
            channels = frame.get("channels", {})
            charge = channels.get("battery_1/MaxChargePower", {}).get("v")
            discharge = channels.get("battery_1/MaxDischargePower", {}).get("v")
            if isinstance(charge, int | float) and isinstance(discharge, int | float):
                self.limits_w = (float(charge), float(discharge))
        elif kind == "edge_status" and frame.get("edge_id") == self.edge_id:
            self.edge_online = bool(frame.get("online"))


async def _token(site: CloudSite, user: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.post(
            site.http("/auth/token"), json={"username": user, "password": PASSWORD}
        )
    if r.status_code != 200:
        raise AssertionError(f"no token for {user}: {r.status_code}")
    access: str = r.json()["access"]
    return access
