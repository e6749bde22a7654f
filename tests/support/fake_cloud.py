"""A scripted cloud for edge tests: a real ``/ws/edge`` (and ``/api/profiles``) on 127.0.0.1.

Every frame the edge sends is decoded with the protocol's own strict decoder,
so a test fails if the edge ever sends something the real cloud would refuse.
Frames land in one queue per frame type; tests await them with a timeout. The
unit tests of the edge link run it against an in-process link, the integration
tests against a real ``ems edge`` process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ems.clock import Clock, RealClock
from ems.profiles import builtin_profile_documents
from ems.protocol import (
    EDGE_TO_CLOUD,
    ClockPing,
    ClockPong,
    CloudToEdgeCommand,
    EdgeAuth,
    EdgeAuthOk,
    EdgeTelemetry,
    FrameError,
    TelemetryAck,
    encode,
)

__all__ = ["TIMEOUT_S", "FakeCloud"]

# The longest any test waits for one event: only a hang should reach it. 5 s was
# reached by a first telemetry frame on a 2-core machine at a load of 8.
TIMEOUT_S = 30.0


class _QuietLogger(logging.LoggerAdapter[logging.Logger]):
    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


class FakeCloud:
    """Accepts edges, records their frames, and sends whatever a test asks."""

    def __init__(
        self,
        clock: Clock | None = None,
        server_offset_s: float = 0.0,
        serve_profiles: bool = False,
    ) -> None:
        self.clock = clock or RealClock()
        self.serve_profiles = serve_profiles  # answer GET /api/profiles on the same port
        self.server_offset_s = server_offset_s  # added to server_time in auth_ok, pongs [s]
        self.refuse_auth = False  # close every connection with 4401 after its auth frame
        self.ack_telemetry = True
        self.auths: asyncio.Queue[EdgeAuth] = asyncio.Queue()
        self.frames: defaultdict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.invalid: list[FrameError] = []  # frames from the edge the decoder refused
        self.close_codes: asyncio.Queue[int | None] = asyncio.Queue()
        self.sessions = 0  # connections that got auth_ok
        self._current: ServerConnection | None = None
        self._session_open = asyncio.Event()
        self._server: Server | None = None

    # -- lifecycle -------------------------------------------------------
    async def __aenter__(self) -> FakeCloud:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            compression=None,
            process_request=self._http,
            # The fake's own frame dumps would show the key the edge sent; the
            # tests check that the edge's logs never do.
            logger=_QuietLogger(logging.getLogger("fakecloud"), {}),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    # -- talking to the edge ---------------------------------------------
    async def send(self, frame: Any) -> None:
        await self.connected()
        assert self._current is not None
        await self._current.send(frame if isinstance(frame, str) else encode(frame))

    async def connected(self) -> ServerConnection:
        """The current authenticated connection, waiting for one if need be."""
        await asyncio.wait_for(self._session_open.wait(), TIMEOUT_S)
        assert self._current is not None
        return self._current

    def _set_current(self, ws: ServerConnection | None) -> None:
        self._current = ws
        if ws is None:
            self._session_open.clear()
        else:
            self._session_open.set()

    async def drop(self, code: int = 1012) -> None:
        """Close the current connection (as a cloud restart would)."""
        ws = await self.connected()
        self._set_current(None)
        await ws.close(code, "going away")

    async def next(
        self,
        frame_type: str,
        where: Callable[[Any], bool] | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> Any:
        """The next frame of ``frame_type`` (matching ``where``), skipping others of that type."""
        async with asyncio.timeout(timeout_s):
            while True:
                frame = await self.frames[frame_type].get()
                if where is None or where(frame):
                    return frame

    async def ack_for(self, command_id: str, status: str) -> Any:
        return await self.next("ack", lambda a: a.command_id == command_id and a.status == status)

    def command(
        self,
        device: str = "battery_1",
        action: str = "set_active_power",
        value: float | str | bool = -1000.0,
        deadline_in_s: float = 30.0,
        command_id: str | None = None,
    ) -> CloudToEdgeCommand:
        now = datetime.fromtimestamp(self.clock.time(), UTC)
        return CloudToEdgeCommand(
            command_id=command_id or str(uuid.uuid4()),
            device=device,
            action=action,
            value=value,
            issued_at=now,
            deadline=now + timedelta(seconds=deadline_in_s),
            user="alice",
        )

    # -- the endpoints ---------------------------------------------------
    def _http(self, ws: ServerConnection, request: Request) -> Response | None:
        if request.path != "/api/profiles":
            return None  # go on with the WebSocket handshake
        if not self.serve_profiles:
            return ws.respond(HTTPStatus.NOT_FOUND, "not found\n")
        return ws.respond(HTTPStatus.OK, json.dumps({"profiles": builtin_profile_documents()}))

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            auth = EDGE_TO_CLOUD.decode(await ws.recv())
            if not isinstance(auth, EdgeAuth):
                await ws.close(4401, "auth first")
                return
            self.auths.put_nowait(auth)
            if self.refuse_auth:
                await ws.close(4401, "invalid api key")
                return
            server_time = datetime.fromtimestamp(self.clock.time() + self.server_offset_s, UTC)
            await ws.send(encode(EdgeAuthOk(server_time=server_time)))
            self.sessions += 1
            self._set_current(ws)
            async for raw in ws:
                frame = EDGE_TO_CLOUD.decode(raw)
                if isinstance(frame, FrameError):
                    self.invalid.append(frame)
                    continue
                self.frames[frame.type].put_nowait(frame)
                if isinstance(frame, EdgeTelemetry) and self.ack_telemetry:
                    await ws.send(encode(TelemetryAck(seq=frame.seq)))
                elif isinstance(frame, ClockPing):
                    now = datetime.fromtimestamp(self.clock.time() + self.server_offset_s, UTC)
                    await ws.send(encode(ClockPong(edge_time=frame.edge_time, server_time=now)))
        except ConnectionClosed:
            pass
        finally:
            if self._current is ws:
                self._set_current(None)
            with contextlib.suppress(Exception):
                await ws.wait_closed()
            self.close_codes.put_nowait(ws.close_code)
