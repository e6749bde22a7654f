"""``/ws/edge``: an edge authenticates with its API key, then streams acks and telemetry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from ems.cloud.auth.port import AuthUnavailable
from ems.cloud.cluster import CLOSE_REPLACED, Cluster
from ems.cloud.commands import Dispatcher
from ems.cloud.configsync import ConfigSync
from ems.cloud.edge_guard import CLOSE_RATE_LIMITED, EdgeGuard
from ems.cloud.frame_size import over_limit
from ems.cloud.hub import EdgeSession, Hub
from ems.cloud.peer import Peer
from ems.cloud.settings import CloudSettings
from ems.cloud.telemetry import IngestFrame, Row, SampleLike, TelemetryBatcher, TelemetryDecoder
from ems.cloud.telemetry.intake import IntakeGate
from ems.cloud.telemetry.pending import PendingFrames
from ems.protocol import (
    EDGE_TO_CLOUD,
    ClockPing,
    ClockPong,
    EdgeAck,
    EdgeAudit,
    EdgeAuth,
    EdgeAuthOk,
    EdgeConfigAck,
    EdgeInventory,
    ErrorFrame,
    FrameError,
    TelemetryAck,
    UiTelemetry,
)

__all__ = ["AlarmIngest", "EdgeEndpoint", "KeyCheck"]

log = logging.getLogger(__name__)

#: ``(edge_id, api_key) -> valid?``; must compare in constant time. Raises
#: :class:`~ems.cloud.auth.port.AuthUnavailable` when it cannot tell.
KeyCheck = Callable[[str, str], Awaitable[bool]]
#: ``(edge_id, frame)``: store an edge's audit records (those it may write).
TraceSink = Callable[[str, EdgeAudit], Awaitable[object]]


class AlarmIngest(Protocol):
    """What alarm evaluation needs from the socket of an edge (``ems.cloud.alarms``)."""

    def frame(self, edge_id: str, channels: Mapping[str, SampleLike]) -> None:
        """A live frame (never a backfilled one); must be cheap and not block."""
        ...

    def inventory(self, edge_id: str, devices: Iterable[str]) -> None: ...

    def edge_attached(self, edge_id: str) -> None: ...

    def clock_sample(self, edge_id: str, edge_time_s: float, server_time_s: float) -> None:
        """The edge's clock read ``edge_time_s`` when it sent a frame that arrived at
        ``server_time_s`` (an estimate of its drift, up to the one-way latency)."""
        ...


CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later": the auth service did not answer
_TELL_EVERY_S = 10.0  # an edge over its ack budget is told (and logged) at most this often
#: Queued frames of one edge stored (and acked) together at most; also how many
#: frames of one edge may wait for the database before its socket is not read.
STORE_FRAMES_PER_SUBMIT = 64


#: One frame on its way to the database: seq, ts of a live frame (None: backfill), rows.
_Pending = tuple[int, datetime | None, list[Row]]


class EdgeEndpoint:
    def __init__(
        self,
        hub: Hub,
        dispatcher: Dispatcher,
        batcher: TelemetryBatcher,
        check_key: KeyCheck,
        settings: CloudSettings,
        cluster: Cluster,
        guard: EdgeGuard | None = None,
        trace: TraceSink | None = None,
        on_stored: Callable[[datetime], None] | None = None,
        alarms: AlarmIngest | None = None,
        config_sync: ConfigSync | None = None,
        intake: IntakeGate | None = None,
        decoder: TelemetryDecoder | None = None,
    ) -> None:
        self._alarms = alarms
        #: Bounds the telemetry held in this process (back-pressure past capacity).
        self.intake = intake or IntakeGate(settings.telemetry_intake_rows)
        self._decoder = decoder or TelemetryDecoder()
        self._config_sync = config_sync
        self._trace = trace
        self._guard = guard
        self._told: dict[str, float] = {}  # edge -> when it was last told it is throttled
        self._hub = hub
        self._cluster = cluster
        self._dispatcher = dispatcher
        self._batcher = batcher
        self._check_key = check_key
        self._settings = settings
        #: Called with each frame's ts once its rows are durable (the ingest-lag metric).
        self._on_stored = on_stored or (lambda _ts: None)

    async def __call__(self, websocket: WebSocket) -> None:
        await websocket.accept()
        auth = await self._authenticate(websocket)
        if auth is None:
            return
        peer = Peer(websocket, f"edge:{auth.edge_id}", max_backlog=10_000)
        peer.start()
        session = EdgeSession(auth.edge_id, peer, key_id=_key_id(auth.api_key))
        old = self._hub.attach_edge(session)
        if old is not None:
            log.info("edge %s reconnected; closing its previous connection", auth.edge_id)
            await old.peer.close(CLOSE_REPLACED, "replaced by a newer connection")
        telemetry: PendingFrames[_Pending] = PendingFrames(STORE_FRAMES_PER_SUBMIT)
        writer: asyncio.Task[None] | None = None
        try:
            # Claimed before draining: a command queued elsewhere meanwhile either
            # is in the queue this drain reads or sees the claim and asks for a drain.
            previous = await self._cluster.edge_attached(session)
            if previous is not None:
                # That process may have died mid-delivery: what it held goes back first.
                await self._dispatcher.take_over(auth.edge_id, previous)
            if self._alarms is not None:
                self._alarms.edge_attached(auth.edge_id)
            peer.send(EdgeAuthOk(server_time=datetime.now(UTC)))
            log.info("edge %s connected", auth.edge_id)
            self._dispatcher.drain(auth.edge_id)  # what waited while it was offline, in order
            writer = asyncio.create_task(self._store_telemetry(session, telemetry))
            await self._receive(websocket, session, telemetry)
        finally:
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            while not telemetry.empty():  # admitted, never to be stored: room for others
                self.intake.release(len(telemetry.get_nowait()[2]))
            if self._hub.detach_edge(session):
                with contextlib.suppress(Exception):  # the claim expires by itself
                    await self._cluster.edge_detached(auth.edge_id)
            await peer.stop()
            log.info("edge %s disconnected", auth.edge_id)

    async def _authenticate(self, websocket: WebSocket) -> EdgeAuth | None:
        address = websocket.client.host if websocket.client else "unknown"
        if self._guard is not None:
            allowed = await self._guard.login_allowed(address)
            if not allowed.allowed:
                log.warning("edge login from %s refused: too many failed logins", address)
                await _close(
                    websocket,
                    CLOSE_RATE_LIMITED,
                    "rate_limited: too many failed logins; "
                    f"retry in {allowed.retry_after_header} s",
                )
                return None
        try:
            raw = await asyncio.wait_for(websocket.receive_text(), self._settings.auth_timeout_s)
        except (TimeoutError, WebSocketDisconnect, RuntimeError, KeyError):
            await _close(websocket, CLOSE_UNAUTHORIZED, "authenticate first, within the timeout")
            return None
        frame = EDGE_TO_CLOUD.decode(raw)
        if not isinstance(frame, EdgeAuth):
            await _close(websocket, CLOSE_UNAUTHORIZED, "first frame must be auth")
            return None
        try:
            valid = await self._check_key(frame.edge_id, frame.api_key)
        except AuthUnavailable as exc:
            # Not the edge's fault: no failed login counted, and it retries later.
            log.error("edge %s not checked: %s", frame.edge_id, exc)
            await _close(websocket, CLOSE_TRY_AGAIN, "auth_unavailable: try again later")
            return None
        if not valid:
            log.warning("edge %s refused: wrong API key (from %s)", frame.edge_id, address)
            if self._guard is not None:
                await self._guard.login_failed(address)
            await _close(websocket, CLOSE_UNAUTHORIZED, "unknown edge or wrong API key")
            return None
        return frame

    async def _receive(
        self, websocket: WebSocket, session: EdgeSession, telemetry: PendingFrames[_Pending]
    ) -> None:
        edge_id = session.edge_id
        latest = self._hub.latest.setdefault(edge_id, {})
        loop = asyncio.get_running_loop()
        pause_max_s = self._settings.telemetry_pause_max_s
        shed_until = 0.0  # loop.time() until which this socket is read without waiting
        # Reading waits for room at most pause_max_s in every 2 * pause_max_s: what
        # follows telemetry in the stream (a command's ack) is read within about that.
        window_start = loop.time()
        waited_s = 0.0
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text") or message.get("bytes") or b""
            if over_limit(raw, self._settings.edge_max_frame_bytes):
                await session.peer.close(CLOSE_TOO_BIG, "frame too large")
                return
            self._hub.seen(edge_id)
            shedding = shed_until > 0.0 and loop.time() < shed_until
            if shedding and self.intake.full and _is_telemetry(raw):
                self.intake.shed()  # not even decoded; unacked: the edge sends it again
                continue
            # Telemetry is decoded straight into rows, and a valid frame's samples go
            # into the latest values (used for dynamic limits) in the same pass; those
            # only move forward in time, as a backfilled frame is older than live ones.
            frame = self._decoder.decode(edge_id, raw, latest)
            if isinstance(frame, FrameError):
                session.peer.send(frame.frame())
            elif isinstance(frame, IngestFrame):
                if not frame.backfill:  # dashboards and alarms see live frames only
                    self._forward_live(edge_id, frame)
                    if self._alarms is not None:
                        self._evaluate(edge_id, frame)
                pending: _Pending = (frame.seq, None if frame.backfill else frame.ts, frame.rows)
                del frame  # its JSON is several times the size of its rows
                # Past capacity this waits, reading nothing more from this edge: TCP
                # back-pressure, and the edge keeps what it cannot send in its buffer.
                # Not for longer than pause_max_s: then its telemetry is shed for a
                # while, so that its acks behind it in the stream are read.
                if not self.intake.try_admit(len(pending[2])):
                    if shedding:
                        self.intake.shed()
                        continue
                    started = loop.time()
                    if started - window_start >= 2 * pause_max_s:
                        window_start, waited_s = started, 0.0
                    try:
                        await asyncio.wait_for(
                            self.intake.admit(len(pending[2])), max(0.0, pause_max_s - waited_s)
                        )
                    except TimeoutError:
                        self.intake.shed()
                        shed_until = loop.time() + pause_max_s
                        window_start, waited_s = shed_until, 0.0
                        continue
                    finally:
                        waited_s += loop.time() - started
                await telemetry.put(pending)
            elif isinstance(frame, EdgeAck):
                if self._guard is not None:
                    await self._throttle_ack(session)
                await self._dispatcher.on_edge_ack(edge_id, frame)
            elif isinstance(frame, EdgeAudit):
                if self._trace is not None:
                    await self._trace(edge_id, frame)
            elif isinstance(frame, ClockPing):
                now = datetime.now(UTC)
                session.peer.send(ClockPong(edge_time=frame.edge_time, server_time=now))
                if self._alarms is not None:
                    self._alarms.clock_sample(edge_id, frame.edge_time.timestamp(), now.timestamp())
            elif isinstance(frame, EdgeInventory):
                await self._dispatcher.record_inventory(
                    edge_id, list(frame.devices), list(frame.controllers)
                )
                log.info("edge %s inventory: %s", edge_id, [d.id for d in frame.devices])
                if self._alarms is not None:
                    self._alarms.inventory(edge_id, [d.id for d in frame.devices])
                if self._config_sync is not None:
                    # Behind the newest stored version (it was offline): pushed now.
                    await self._config_sync.on_inventory(edge_id, frame.config_version)
            elif isinstance(frame, EdgeConfigAck):
                if self._config_sync is not None:
                    await self._config_sync.on_ack(edge_id, frame)
            else:  # a second auth frame
                session.peer.send(
                    ErrorFrame(code="invalid_payload", detail="already authenticated")
                )

    async def _throttle_ack(self, session: EdgeSession) -> None:
        """Wait (reading nothing more from this edge) until its ack budget allows one."""
        assert self._guard is not None
        wait_s = self._guard.ack_wait_s(session.edge_id)
        if wait_s <= 0:
            return
        self._guard.acks_throttled += 1
        now = time.monotonic()
        if now - self._told.get(session.edge_id, -_TELL_EVERY_S) >= _TELL_EVERY_S:
            self._told[session.edge_id] = now  # at most once in a while, not per ack
            rate = self._guard.ack_rate.describe("acks")
            log.warning("edge %s: over %s; reading paused", session.edge_id, rate)
            session.peer.send(
                ErrorFrame(code="rate_limited", detail=f"over {rate}; acks are read more slowly")
            )
        while wait_s > 0:
            await asyncio.sleep(wait_s)
            wait_s = self._guard.ack_wait_s(session.edge_id)

    def _evaluate(self, edge_id: str, frame: IngestFrame) -> None:
        assert self._alarms is not None
        try:
            self._alarms.frame(edge_id, frame.sample_view())
        except Exception:  # an alarm bug must not cost the edge its telemetry
            log.exception("edge %s: alarm evaluation of frame %d failed", edge_id, frame.seq)

    def _forward_live(self, edge_id: str, frame: IngestFrame) -> None:
        subscribers = self._hub.subscribers.get(edge_id)
        remote = self._cluster.wants_live(edge_id)
        if not subscribers and not remote:
            return
        live = UiTelemetry.model_construct(
            type="telemetry", edge_id=edge_id, ts=frame.ts, channels=frame.samples()
        )
        for ui in subscribers or ():
            ui.peer.send(live, droppable=True)
        if remote:
            self._cluster.telemetry(live)

    async def _store_telemetry(self, session: EdgeSession, queue: PendingFrames[_Pending]) -> None:
        """Store frames in order; ack each once durable, then release its intake.

        Frames that queued up meanwhile (a backfill after an outage) go into
        one submission, so a backlog costs one commit per batch, not per frame.
        """
        while True:
            stored: list[tuple[int, datetime | None]] = []  # (seq, ts of a live frame)
            rows: list[Row] = []
            while True:
                seq, ts, frame_rows = await queue.get() if not stored else queue.get_nowait()
                if stored:
                    rows.extend(frame_rows)
                else:  # the frame's own list (nobody else holds it): no copy per edge
                    rows = frame_rows
                stored.append((seq, ts))
                if queue.empty() or len(stored) >= STORE_FRAMES_PER_SUBMIT:
                    break
            try:
                await self._batcher.submit(rows)
            except Exception:
                # Not acked: the edge keeps these frames and sends them again.
                log.exception(
                    "edge %s: storing telemetry %d..%d failed",
                    session.edge_id,
                    stored[0][0],
                    stored[-1][0],
                )
                continue
            finally:
                # Also when cancelled (the edge left): the batch is written regardless.
                self.intake.release(len(rows))
            for seq, ts in stored:
                session.peer.send(TelemetryAck(seq=seq))
                if ts is not None:
                    self._on_stored(ts)


_TELEMETRY_PREFIX = '{"type":"telemetry"'


def _is_telemetry(raw: str | bytes) -> bool:
    """A telemetry frame as edges write it (``type`` first, compact): worth no decoding
    while it is shed. Anything else is decoded as usual, so an ack is never shed."""
    if isinstance(raw, bytes):
        return raw.startswith(_TELEMETRY_PREFIX.encode())
    return raw.startswith(_TELEMETRY_PREFIX)


def _key_id(api_key: str) -> str | None:
    """The public part of a key ``ems_<key_id>_<secret>`` (to close the socket when
    that key is revoked); never the secret."""
    parts = api_key.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "ems" else None


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason)
