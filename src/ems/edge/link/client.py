"""The edge's connection to the cloud: connect, authenticate, serve, reconnect.

One :class:`CloudLink` per edge. It keeps one WebSocket to ``/ws/edge``
(DESIGN section 5) and, while it is up, runs a reader (commands, telemetry
acks, errors from the cloud) and a writer (acks first, then telemetry). The
DAL is watched for new cycles and new acks; the watch callbacks run under the
store lock, so they only hand work to the event loop. Network trouble never
escapes :meth:`CloudLink.run`: it is logged and the link reconnects with
backoff until ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from ems import __version__
from ems.clock import Clock
from ems.dal import ACK_PREFIX, Category, Sample
from ems.edge.clocksync import ClockSample, ClockSync
from ems.edge.config import TelemetryConfig
from ems.edge.controller_settings import controller_ref
from ems.edge.link._wire import utc_datetime
from ems.edge.link.audit_outbox import AuditOutbox
from ems.edge.link.backoff import Backoff
from ems.edge.link.dispatcher import AckOutbox, CommandDispatcher, audit_ack_sent
from ems.edge.link.endpoints import cloud_endpoints
from ems.edge.link.profiles import refresh_profile_cache
from ems.edge.link.recent_acks import RECENT_ACKS_FILE, RecentAcks
from ems.edge.link.seen import SeenCommands
from ems.edge.link.uplink import TelemetryUplink
from ems.edge.runtime import EdgeRuntime

if TYPE_CHECKING:
    from ems.edge.configsync import PushedConfigs
from ems.protocol import (
    CLOUD_TO_EDGE,
    ClockPing,
    ClockPong,
    CloudToEdgeCommand,
    DeviceRef,
    EdgeAuth,
    EdgeAuthOk,
    EdgeConfigAck,
    EdgeConfigPush,
    EdgeInventory,
    ErrorFrame,
    FrameError,
    TelemetryAck,
    config_reasons,
    encode,
)

__all__ = ["AUTH_REFUSED", "CloudLink"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Close code the cloud uses for a refused API key.
AUTH_REFUSED = 4401
#: Close code the cloud uses when a newer connection of the same edge id took over.
REPLACED = 4409
#: The cycle writes this channel last in every cycle: one write, one frame.
CYCLE_INDEX = "_cycle/Index"
MAX_API_KEY_CHARS = 256  # EdgeAuth.api_key's limit
#: The link's own channels: the measured offset to the cloud's clock (cloud minus
#: edge) and its uncertainty (half the round trip of the measurement) [ms].
CLOCK_OFFSET = "_link/ClockOffsetMs"
CLOCK_UNCERTAINTY = "_link/ClockUncertaintyMs"
#: A clock warning is repeated at most this often while the offset stays too large [s].
CLOCK_WARN_EVERY_S = 600.0
#: The durable record of commands taken, in ``cache_dir`` (it must survive restarts).
SEEN_COMMANDS_FILE = "seen-commands.sqlite3"
#: Telemetry frames not yet acked by the cloud, in ``cache_dir``.
TELEMETRY_BUFFER_FILE = "telemetry-buffer.sqlite3"


class _Secret:
    """A string that does not show itself in ``repr``, tracebacks or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class _NoFrameDebug(logging.LoggerAdapter[logging.Logger]):
    """The logger handed to websockets, with its DEBUG output turned off.

    At DEBUG, websockets logs the start of every frame it sends, and the
    first frame carries the API key; this keeps the key out of the logs
    whatever level an operator sets.
    """

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - overrides logging's name
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


class _Stopped(Exception):
    """``stop`` was set while waiting for the network."""


class _AuthFailed(Exception):
    """The cloud answered the auth frame with something other than ``auth_ok``."""


class CloudLink:
    """The edge side of the cloud connection.

    ``url`` is the cloud's base URL (``http(s)://`` or ``ws(s)://host[:port]``);
    the socket is ``ws(s)://host/ws/edge``. ``cache_dir`` keeps the last
    profiles fetched from the cloud (refreshed after the first connection) and
    the record of commands taken, the journal of recent final acks (sent again
    on the next connection, also by the next process) and the telemetry buffer
    (frames kept until the cloud acks them, bounded as ``telemetry`` says, by
    default the edge config's ``telemetry`` section); ``drift_warn_s`` is the clock
    offset from the cloud above which a warning is logged [s] (default: the
    config's ``clock.max_offset_ms``), measured at connect and then every
    ``clock_check_s`` (default ``clock.check_interval_s``) with a
    ``clock_ping``. The offset goes to ``runtime.clock_sync`` (the deadline
    checks use it) and to the ``_link/ClockOffsetMs`` channel.

    ``seen`` is the durable record of commands this edge has taken, so a
    command delivered again is never executed again, even across restarts;
    by default a :class:`~ems.edge.link.seen.SeenCommands` at
    ``cache_dir / "seen-commands.sqlite3"``. The link owns it and closes it
    when :meth:`run` returns, so a link runs once.
    """

    def __init__(
        self,
        runtime: EdgeRuntime,
        url: str,
        api_key: str,
        cache_dir: Path,
        *,
        clock: Clock | None = None,
        telemetry: TelemetryConfig | None = None,
        backoff: Backoff | None = None,
        drift_warn_s: float | None = None,
        clock_check_s: float | None = None,
        auth_timeout_s: float = 5.0,
        max_frame_bytes: int = 2**20,
        refresh_profiles: bool = True,
        seen: SeenCommands | None = None,
        config: PushedConfigs | None = None,
    ) -> None:
        if not isinstance(api_key, str) or not 1 <= len(api_key) <= MAX_API_KEY_CHARS:
            raise ValueError(f"the API key must be 1 to {MAX_API_KEY_CHARS} characters")
        if api_key != api_key.strip():
            raise ValueError("the API key has leading or trailing whitespace (a newline?)")
        self._runtime = runtime
        self._endpoints = cloud_endpoints(url)
        self._api_key = _Secret(api_key)
        self._cache_dir = cache_dir
        self._clock = clock or runtime.clock
        self._backoff = backoff or Backoff()
        clock_config = runtime.config.clock
        self._drift_warn_s = (
            clock_config.max_offset_ms / 1000.0 if drift_warn_s is None else drift_warn_s
        )
        self._clock_check_s = (
            clock_config.check_interval_s if clock_check_s is None else clock_check_s
        )
        self._sync: ClockSync = runtime.clock_sync
        self._last_clock_warning: float | None = None  # monotonic s
        self._ping_due = False
        runtime.store.declare(CLOCK_OFFSET, Category.INPUT, "ms")
        runtime.store.declare(CLOCK_UNCERTAINTY, Category.INPUT, "ms")
        self._auth_timeout_s = auth_timeout_s
        self._max_frame_bytes = max_frame_bytes
        self._refresh_profiles = refresh_profiles
        #: Applies the configs the cloud pushes (DESIGN 16); None: pushes are refused.
        self._config = config
        self._config_acks: list[EdgeConfigAck] = []
        self._inventory_due = False  # a pushed config changed the controllers or the version
        self._config_tasks: set[asyncio.Task[None]] = set()
        # Built here: a config whose ids the wire refuses fails here, not per connection.
        self._inventory = self._build_inventory()
        # Opened here, not in run: a damaged file is reported (and replaced) at start.
        self._seen = (
            seen
            if seen is not None
            else SeenCommands(cache_dir / SEEN_COMMANDS_FILE, clock=self._clock)
        )
        self._wake = asyncio.Event()  # set when an ack or a frame is ready to send
        # A restarted edge sends again the final acks its previous process sent
        # just before it died (the journal outlives the process).
        resend_window_s = runtime.config.commands.ack_resend_window_s
        self._recent_acks = RecentAcks(cache_dir / RECENT_ACKS_FILE, self._clock, resend_window_s)
        self._outbox = AckOutbox(
            self._wake.set,
            now=self._clock.monotonic,
            resend_window_s=resend_window_s,
            journal=self._recent_acks,
        )
        self._dispatcher = CommandDispatcher(
            runtime.requests.submit, self._clock, self._outbox, seen=self._seen, audit=runtime.audit
        )
        # The edge's audit records, for the cloud's copy of each command's trace.
        self._audit_outbox = AuditOutbox(self._wake.set)
        runtime.audit.listeners.append(self._audit_outbox.on_event)
        self._uplink = TelemetryUplink(
            runtime.store,
            self._clock,
            telemetry or runtime.config.telemetry,
            cache_dir / TELEMETRY_BUFFER_FILE,
            self._wake.set,
            marker=CYCLE_INDEX,
        )
        self._ws_logger = _NoFrameDebug(logging.getLogger("ems.edge.link.websockets"), {})
        self._running = False
        self._finished = False  # run returned: the command record is closed
        self._connected = False
        self._refresh_task: asyncio.Task[None] | None = None
        self.connections = 0  # sessions that got auth_ok
        self.reconnects = 0  # connection attempts after the first
        self.auth_refusals = 0  # closes with 4401
        self.acks_sent = 0
        self.errors_received = 0  # error frames from the cloud
        self.last_clock_offset_s: float | None = None  # cloud time - edge time [s]

    def _build_inventory(self) -> EdgeInventory:
        runtime = self._runtime
        return EdgeInventory(
            type="inventory",
            devices=[DeviceRef(id=d.id, profile=d.profile) for d in runtime.config.devices],
            controllers=[controller_ref(c) for c in runtime.controllers],
            config_version=None if self._config is None else self._config.version,
        )

    async def _apply_config(self, push: EdgeConfigPush) -> None:
        if self._config is None:
            ack = EdgeConfigAck.rejected(
                push.version, config_reasons.NOT_SUPPORTED, "this edge runs without config sync"
            )
        else:
            ack = await self._config.apply(push)
        if ack.status == "applied":
            self._inventory = self._build_inventory()
            self._inventory_due = True
        self._config_acks.append(ack)
        self._wake.set()

    # -- observable state ------------------------------------------------
    @property
    def connected(self) -> bool:
        """Authenticated and serving right now."""
        return self._connected

    @property
    def ws_url(self) -> str:
        return self._endpoints.ws_url

    @property
    def http_base(self) -> str:
        return self._endpoints.http_base

    @property
    def frames_dropped(self) -> int:
        return self._uplink.frames_dropped

    @property
    def frames_queued(self) -> int:
        """Frames not yet acked by the cloud (buffered)."""
        return self._uplink.depth

    @property
    def uplink(self) -> TelemetryUplink:
        """The telemetry buffer and its counters (read-only use: metrics, tests)."""
        return self._uplink

    @property
    def outbox(self) -> AckOutbox:
        """Acks waiting for the socket, and the count of every status reported (metrics)."""
        return self._outbox

    @property
    def telemetry_sent(self) -> int:
        return self._uplink.telemetry_sent

    @property
    def telemetry_acked_seq(self) -> int | None:
        return self._uplink.acked_seq

    @property
    def commands_received(self) -> int:
        return self._dispatcher.commands_received

    @property
    def acks_pending(self) -> int:
        return len(self._outbox)

    @property
    def audit_records_pending(self) -> int:
        return len(self._audit_outbox)

    @property
    def audit_records_dropped(self) -> int:
        return self._audit_outbox.dropped

    # -- the loop --------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Keep the link up until ``stop`` is set; never raises for network trouble."""
        if self._running:
            raise RuntimeError("CloudLink.run is already running")
        if self._finished:
            raise RuntimeError("CloudLink.run has already returned; build a new link")
        self._running = True
        loop = asyncio.get_running_loop()
        store = self._runtime.store
        unwatch = [
            store.watch(CYCLE_INDEX, lambda _a, _s: _hand_over(loop, self._uplink.capture)),
            store.watch(ACK_PREFIX + "/", lambda _a, s: self._on_ack_write(loop, s)),
        ]
        flusher = asyncio.create_task(self._uplink.run(stop))
        try:
            first = True
            while not stop.is_set():
                if not first:
                    self.reconnects += 1
                first = False
                uptime_s = await self._attempt(stop)
                if uptime_s is not None:
                    self._backoff.connection_ended(uptime_s)
                if stop.is_set():
                    break
                delay_s = self._backoff.next_delay()
                log.info("reconnecting to %s in %.2f s", self.ws_url, delay_s)
                await _sleep_unless_stopped(stop, delay_s)
        finally:
            for undo in unwatch:
                undo()
            try:
                # Acks handed over before the unwatch are still queued on the
                # loop: let them reach the dispatcher (and the record) first.
                await asyncio.sleep(0)
                if self._refresh_task is not None:
                    self._refresh_task.cancel()
                    await asyncio.wait({self._refresh_task})
                flusher.cancel()
                await asyncio.wait({flusher})
                await self._uplink.close()
            finally:
                self._seen.close()
                self._recent_acks.close()
                self._finished = True
                self._connected = False
                self._running = False

    def _on_ack_write(self, loop: asyncio.AbstractEventLoop, sample: Sample) -> None:
        # Under the store lock: copy the value and leave.
        if isinstance(sample.value, Mapping):
            _hand_over(loop, self._dispatcher.on_final_ack, dict(sample.value))

    async def _attempt(self, stop: asyncio.Event) -> float | None:
        """One connection, start to end; returns how long it was authenticated [s]."""
        loop = asyncio.get_running_loop()
        ws: ClientConnection | None = None
        up_since: float | None = None
        try:
            ws = await _unless_stopped(self._open(), stop)
            await _unless_stopped(self._authenticate(ws), stop)
            up_since = loop.time()
            self._connected = True
            self.connections += 1
            log.info("connected to %s as edge %s", self.ws_url, self._runtime.config.edge_id)
            await self._serve(ws, stop)
        except _Stopped:
            pass
        except _AuthFailed as exc:
            log.warning("cloud at %s did not accept the connection: %s", self.ws_url, exc)
        except ConnectionClosed as exc:
            self._log_closed(exc, authenticated=up_since is not None)
        except InvalidStatus as exc:
            log.warning(
                "cloud at %s refused the WebSocket: HTTP %d", self.ws_url, exc.response.status_code
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            log.warning("cannot reach the cloud at %s: %s", self.ws_url, _reason(exc))
        except Exception:
            # A bug must not take the edge's control loop down with the link.
            log.exception("unexpected error in the cloud link; reconnecting")
        finally:
            self._connected = False
            if up_since is not None:
                # Before any await: the cycle runs on this loop, so none takes a
                # request halfway. A command applied now could not be reported
                # before the cloud's watchdog fails it: fail it here instead.
                self._runtime.requests.withdraw_all(
                    "link_lost", "the connection to the cloud was lost before a cycle took it"
                )
            if ws is not None:
                await ws.close()  # 1000; a no-op once the connection is closed
        return None if up_since is None else loop.time() - up_since

    async def _open(self) -> ClientConnection:
        return await connect(
            self.ws_url,
            compression=None,  # DESIGN section 8: no per-message compression
            max_size=self._max_frame_bytes,
            open_timeout=10,
            close_timeout=2,  # a stop should not wait long for a silent cloud
            ping_interval=20,
            ping_timeout=20,
            user_agent_header=f"ems-edge/{__version__}",
            logger=self._ws_logger,
        )

    async def _authenticate(self, ws: ClientConnection) -> None:
        sent_at = self._clock.time()
        auth = EdgeAuth(
            type="auth",
            edge_id=self._runtime.config.edge_id,
            api_key=self._api_key.reveal(),
            edge_time=utc_datetime(sent_at),
        )
        await ws.send(encode(auth))
        try:
            raw = await asyncio.wait_for(ws.recv(), self._auth_timeout_s)
        except TimeoutError:
            raise _AuthFailed(f"no auth_ok within {self._auth_timeout_s:g} s") from None
        received_at = self._clock.time()
        frame = CLOUD_TO_EDGE.decode(raw)
        if isinstance(frame, EdgeAuthOk):
            # The server stamped its time somewhere in the round trip; its
            # midpoint is the best local estimate of that moment.
            self._record_offset(
                ClockSync.sample(sent_at, frame.server_time.timestamp(), received_at), connect=True
            )
            return
        if isinstance(frame, ErrorFrame):
            raise _AuthFailed(f"error {frame.code}: {frame.detail or ''}")
        what = frame.code if isinstance(frame, FrameError) else frame.type
        raise _AuthFailed(f"expected auth_ok, got {what}")

    def _record_offset(self, sample: ClockSample, *, connect: bool = False) -> None:
        self._sync.update(sample)
        offset_s = sample.offset_s
        self.last_clock_offset_s = offset_s
        self._runtime.store.set_channels(
            {
                CLOCK_OFFSET: round(offset_s * 1000.0, 3),
                CLOCK_UNCERTAINTY: round(sample.uncertainty_s * 1000.0, 3),
            }
        )
        if abs(offset_s) > self._drift_warn_s:
            now = self._clock.monotonic()
            last = self._last_clock_warning
            if last is None or now - last >= CLOCK_WARN_EVERY_S:
                self._last_clock_warning = now
                log.warning(
                    "clock offset to the cloud is %+.3f s (cloud minus edge, ± %.3f s), "
                    "beyond %.3f s: deadlines are converted with it, but check NTP on this edge",
                    offset_s,
                    sample.uncertainty_s,
                    self._drift_warn_s,
                )
        elif connect:
            log.info("clock offset to the cloud %+.3f s (± %.3f s)", offset_s, sample.uncertainty_s)

    async def _serve(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        """Inventory, then read and write until the connection ends or ``stop`` is set."""
        await ws.send(encode(self._inventory))
        resent = self._outbox.resend_recent()
        if resent:
            log.info("sending %d recent final ack(s) again after the reconnect", resent)
        if self._refresh_profiles and self._refresh_task is None:
            self._refresh_task = asyncio.create_task(self._refresh_profile_cache())
        self._uplink.session_started()
        reader = asyncio.create_task(self._read(ws))
        writer = asyncio.create_task(self._write(ws))
        stopper = asyncio.create_task(stop.wait())
        pinger = asyncio.create_task(self._ping_every(self._clock_check_s))
        tasks = {reader, writer, stopper, pinger}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            self._uplink.session_ended()
        if stopper in done:
            await ws.close(1000, "edge stopping")
            return
        for task in (reader, writer):
            error = task.exception() if task in done and not task.cancelled() else None
            if error is not None:
                raise error
        log.info(
            "cloud closed the connection (%s %s)",
            ws.close_code,
            ws.close_reason or "",
        )

    async def _ping_every(self, interval_s: float) -> None:
        """Ask the writer for a ``clock_ping`` every ``interval_s`` [s] (the connect
        measured the offset already)."""
        while True:
            await self._clock.sleep_until(self._clock.monotonic() + interval_s)
            self._ping_due = True
            self._wake.set()

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self._on_frame(raw)

    def _on_frame(self, raw: str | bytes) -> None:
        frame = CLOUD_TO_EDGE.decode(raw)
        if isinstance(frame, FrameError):
            log.warning("ignored a frame from the cloud: %s: %s", frame.code, frame.detail)
            self._dispatcher.refuse_unreadable(frame)
        elif isinstance(frame, CloudToEdgeCommand):
            self._dispatcher.handle(frame)
        elif isinstance(frame, EdgeConfigPush):
            # Built off the loop, swapped on it: the cycle keeps its pace meanwhile.
            task = asyncio.get_running_loop().create_task(self._apply_config(frame))
            self._config_tasks.add(task)
            task.add_done_callback(self._config_tasks.discard)
        elif isinstance(frame, TelemetryAck):
            self._uplink.acked(frame.seq)
        elif isinstance(frame, ClockPong):
            self._record_offset(
                ClockSync.sample(
                    frame.edge_time.timestamp(), frame.server_time.timestamp(), self._clock.time()
                )
            )
        elif isinstance(frame, ErrorFrame):
            self.errors_received += 1
            log.warning("cloud reported an error: %s: %s", frame.code, frame.detail or "")
        else:
            log.warning("ignored an unexpected %s frame from the cloud", frame.type)

    async def _write(self, ws: ClientConnection) -> None:
        """Acks first (a command's status is what an operator waits for), then a clock
        ping when due (its round trip should not wait behind telemetry), audit records,
        then telemetry: the live frame, then paced backfill
        (:meth:`TelemetryUplink.next_out`)."""
        while True:
            self._wake.clear()
            if self._config_acks:
                await ws.send(encode(self._config_acks[0]))
                self._config_acks.pop(0)
                continue
            if self._inventory_due:
                self._inventory_due = False
                await ws.send(encode(self._inventory))
                continue
            ack = self._outbox.peek()
            if ack is not None:
                await ws.send(encode(ack))
                # Only now: an ack the socket never took is sent again after reconnect.
                self._outbox.sent()
                self.acks_sent += 1
                audit_ack_sent(self._runtime.audit, ack, self._clock.time())
                continue
            if self._ping_due:
                self._ping_due = False
                ping = ClockPing(type="clock_ping", edge_time=utc_datetime(self._clock.time()))
                await ws.send(encode(ping))
                continue
            records = self._audit_outbox.peek()
            if records is not None:
                await ws.send(encode(records))
                self._audit_outbox.sent(records)
                continue
            out = self._uplink.next_out()
            if out is None:
                await self._idle(self._uplink.next_timer())
                continue
            # A frame the socket does not take stays buffered: sent again next session.
            await ws.send(out.text)
            self._uplink.sent(out)

    async def _idle(self, until_s: float | None) -> None:
        """Wait for the next ack or frame, or until the monotonic time ``until_s``."""
        if until_s is None:
            await self._wake.wait()
            return
        woken = asyncio.ensure_future(self._wake.wait())
        timer = asyncio.ensure_future(self._clock.sleep_until(until_s))
        try:
            await asyncio.wait({woken, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            timer.cancel()

    async def _refresh_profile_cache(self) -> None:
        """Keep the cached profiles fresh for the next start; warn about differences."""
        try:
            async with httpx.AsyncClient() as client:
                profiles = await refresh_profile_cache(self.http_base, self._cache_dir, client)
        except Exception:
            log.exception("profile cache refresh failed")
            return
        if profiles is None:
            return
        for device_id, running in self._runtime.devices.items():
            if profiles.get(running.type) != running:
                log.warning(
                    "the cloud's %s profile differs from the one %s runs with; "
                    "restart the edge to use it",
                    running.type,
                    device_id,
                )

    def _log_closed(self, exc: ConnectionClosed, *, authenticated: bool) -> None:
        code = exc.rcvd.code if exc.rcvd is not None else None
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        if code == AUTH_REFUSED:
            self.auth_refusals += 1
            # Never the key itself: only where to look.
            log.error(
                "cloud at %s refused edge %s: API key rejected (close %d). Check the key "
                "file and the key registered for this edge; retrying",
                self.ws_url,
                self._runtime.config.edge_id,
                AUTH_REFUSED,
            )
        elif code == REPLACED:
            # Two edges fighting over one id would replace each other forever.
            log.error(
                "cloud closed this connection: another connection as edge %s took over "
                "(close %d). Is a second edge running with this id?",
                self._runtime.config.edge_id,
                REPLACED,
            )
        elif authenticated:
            log.warning("connection to the cloud lost (%s %s)", code, reason)
        else:
            log.warning("cloud closed the connection before auth_ok (%s %s)", code, reason)


def _hand_over(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
    """Run ``callback`` on the link's loop, from any thread (store callbacks hold its lock)."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
        loop.call_soon_threadsafe(callback, *args)


async def _unless_stopped(awaitable: Awaitable[T], stop: asyncio.Event) -> T:
    """Await ``awaitable``, or raise :class:`_Stopped` as soon as ``stop`` is set."""
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled():
        raise _Stopped
    return task.result()


async def _sleep_unless_stopped(stop: asyncio.Event, delay_s: float) -> None:
    if delay_s <= 0:
        await asyncio.sleep(0)  # still yield: a zero backoff must not starve the loop
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
