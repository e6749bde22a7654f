"""``/ws/ui``: a dashboard authenticates with its JWT, subscribes to edges, sends commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from starlette.websockets import WebSocket, WebSocketDisconnect

from ems.cloud.auth.jwt import AuthError, Claims
from ems.cloud.auth.revocations import Revocations
from ems.cloud.cluster import Cluster
from ems.cloud.commands import Dispatcher
from ems.cloud.frame_size import over_limit
from ems.cloud.hub import Hub, UiSession
from ems.cloud.peer import Peer
from ems.cloud.settings import CloudSettings
from ems.protocol import (
    UI_TO_CLOUD,
    ErrorFrame,
    FrameError,
    UiAck,
    UiAuth,
    UiAuthOk,
    UiCommand,
    UiSubscribe,
    UiUnsubscribe,
    reasons,
)

__all__ = ["CatchUp", "TokenCheck", "UiEndpoint"]

log = logging.getLogger(__name__)

#: Verifies a JWT; raises :class:`AuthError` with a reason code.
TokenCheck = Callable[[str], Awaitable[Claims]]
#: A user's unfinished commands, each as an ack with its current status.
CatchUp = Callable[[str], Awaitable[Sequence[UiAck]]]

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_TOO_BIG = 1009


class UiEndpoint:
    def __init__(
        self,
        hub: Hub,
        dispatcher: Dispatcher,
        verify: TokenCheck,
        settings: CloudSettings,
        origin_allowed: Callable[[WebSocket], bool],
        cluster: Cluster,
        catch_up: CatchUp | None = None,
        *,
        revocations: Revocations | None = None,
    ) -> None:
        self._hub = hub
        self._cluster = cluster
        self._dispatcher = dispatcher
        self._verify = verify
        self._settings = settings
        self._origin_allowed = origin_allowed
        self._catch_up = catch_up
        self._revocations = revocations

    async def __call__(self, websocket: WebSocket) -> None:
        await websocket.accept()
        if not self._origin_allowed(websocket):
            await _close(websocket, CLOSE_FORBIDDEN_ORIGIN, "origin not allowed")
            return
        claims = await self._authenticate(websocket)
        if claims is None:
            return
        peer = Peer(websocket, f"ui:{claims.username}")
        peer.start()
        session = UiSession(
            claims.username,
            claims.role,
            peer,
            claims.exp,
            token_iat_s=claims.iat,
            edges=claims.edges,
            command_edges=claims.command_edges(),
        )
        self._hub.attach_ui(session)
        await self._cluster.watch_user(session.username)  # acks from other processes
        # A dashboard that only listens sends nothing to check its token on.
        expiry = asyncio.get_running_loop().call_later(
            max(0.0, claims.exp - time.time()),
            lambda: asyncio.ensure_future(peer.close(CLOSE_UNAUTHORIZED, "token expired")),
        )
        peer.send(
            UiAuthOk(user=claims.username, role=claims.role, server_time=datetime.now(UTC))  # type: ignore[arg-type]
        )
        try:
            await self._send_catch_up(session)
            await self._receive(websocket, session)
        finally:
            expiry.cancel()
            self._hub.detach_ui(session)
            with contextlib.suppress(Exception):
                await self._cluster.unwatch_user(session.username)
                for edge_id in session.subscriptions:
                    await self._cluster.unwatch_edge(edge_id)
            await peer.stop()

    async def _send_catch_up(self, session: UiSession) -> None:
        """The current status of the user's unfinished commands, so a dashboard that
        reconnects is not left showing a status its last socket missed changing.

        The socket is attached before this, so a change meanwhile may also arrive
        as a live ack: a repeat of the same status, never an older one.
        """
        if self._catch_up is None:
            return
        try:
            acks = await self._catch_up(session.username)
        except Exception:
            log.warning(
                "no catch-up for %s: command records unreadable", session.username, exc_info=True
            )
            return
        for ack in acks:
            session.peer.send(ack)

    async def _authenticate(self, websocket: WebSocket) -> Claims | None:
        token = websocket.query_params.get("token")
        if token is None:
            try:
                raw = await asyncio.wait_for(
                    websocket.receive_text(), self._settings.auth_timeout_s
                )
            except (TimeoutError, WebSocketDisconnect, RuntimeError, KeyError):
                await _close(
                    websocket, CLOSE_UNAUTHORIZED, "authenticate first, within the timeout"
                )
                return None
            frame = UI_TO_CLOUD.decode(raw)
            if not isinstance(frame, UiAuth):
                await _close(websocket, CLOSE_UNAUTHORIZED, "first frame must be auth")
                return None
            token = frame.token
        try:
            return await self._verify(token)
        except AuthError as exc:
            # The token itself is never logged.
            log.info("dashboard refused: %s", exc.reason)
            await _close(websocket, CLOSE_UNAUTHORIZED, exc.reason)
            return None

    async def _receive(self, websocket: WebSocket, session: UiSession) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text") or message.get("bytes") or b""
            if over_limit(raw, self._settings.ui_max_frame_bytes):
                await session.peer.close(CLOSE_TOO_BIG, "frame too large")
                return
            frame = UI_TO_CLOUD.decode(raw)
            # Every frame, so no command runs on an expired or revoked token (a
            # revocation also closes the socket at once; this covers the moments
            # before that close, with no Redis round trip: a local lookup).
            problem = self._token_problem(session)
            if problem is not None:
                if isinstance(frame, UiCommand):
                    session.peer.send(
                        UiAck(
                            command_id=frame.command_id,
                            edge_id=frame.edge_id,
                            status="rejected",
                            reason=reasons.UNAUTHORIZED,
                            detail=problem,
                            at=datetime.now(UTC),
                        )
                    )
                await session.peer.close(CLOSE_UNAUTHORIZED, problem)
                return
            if isinstance(frame, FrameError):
                self._refuse(session, frame)
            elif isinstance(frame, UiCommand):
                await self._dispatcher.submit(
                    session.username, session.role, frame, edges=session.command_edges
                )
            elif isinstance(frame, UiSubscribe):
                if not session.may_access(frame.edge_id):
                    # The same answer whether the edge exists or not.
                    session.peer.send(
                        ErrorFrame(
                            code=reasons.FORBIDDEN, detail=f"no access to edge {frame.edge_id}"
                        )
                    )
                    continue
                if frame.edge_id not in session.subscriptions:
                    self._hub.subscribe(session, frame.edge_id)
                    await self._cluster.watch_edge(frame.edge_id)
                session.peer.send(await self._cluster.status(frame.edge_id))
            elif isinstance(frame, UiUnsubscribe):
                if frame.edge_id in session.subscriptions:
                    self._hub.unsubscribe(session, frame.edge_id)
                    await self._cluster.unwatch_edge(frame.edge_id)
            else:  # a second auth frame
                session.peer.send(
                    ErrorFrame(code=reasons.INVALID_PAYLOAD, detail="already authenticated")
                )

    def _token_problem(self, session: UiSession) -> str | None:
        """Why the session's token no longer holds, or None."""
        if time.time() >= session.token_exp_s:
            return "token expired"
        if self._revocations is not None and self._revocations.session_revoked(session):
            return "token revoked"
        return None

    @staticmethod
    def _refuse(session: UiSession, error: FrameError) -> None:
        """A readable command gets a ``rejected`` ack; anything else an error frame."""
        if error.frame_type == "command" and error.command_id is not None:
            session.peer.send(
                UiAck(
                    command_id=error.command_id,
                    edge_id=error.edge_id or "unknown",
                    status="rejected",
                    reason=error.code,
                    detail=error.detail,
                    at=datetime.now(UTC),
                )
            )
            return
        session.peer.send(error.frame())


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason)
