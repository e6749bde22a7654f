"""Prometheus ``/metrics`` of one cloud process (DESIGN section 5); with
``--workers`` one scrape shows every worker (:mod:`ems.cloud.worker_metrics`).

One :class:`CloudMetrics` per app, with its own ``CollectorRegistry`` (no
global state: tests make many apps in one process). What is counted on a hot
path costs one pre-bound counter or histogram call:

- commands: every status change (``ems_commands_total{status,reason}``), through
  the dispatcher's listeners; label children are made once per (status, reason)
  and kept, so a status costs a dict look-up and an increment;
- telemetry: per stored frame one observation of its ingest lag (frame ``ts``
  to durable), per database batch one of its write time and its size.

Everything else is read when Prometheus scrapes, not maintained on the way:
connected edges and dashboards from the hub, stored values from the batcher's
running totals, in-flight commands and queued commands from Redis (two or
three round trips per scrape), socket backlogs from the peers, back-pressure
from the telemetry intake. An event-loop
lag probe sleeps 0.25 s in a loop and records how late it woke up.

``/metrics`` carries no secrets, but it shows edge counts and load: it is
open when ``EMS_METRICS_TOKEN`` is unset (scrape it on a private network, or
bind ``EMS_HOST`` to one) and needs ``Authorization: Bearer <token>`` when set.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from ems.cloud.hub import Hub
from ems.cloud.shared.bus import BusStats
from ems.cloud.telemetry import BatcherStats
from ems.cloud.telemetry.intake import IntakeGate
from ems.cloud.worker_metrics import WorkerMetrics
from ems.protocol import UiAck

__all__ = ["CloudMetrics", "metrics_router"]

log = logging.getLogger(__name__)

_LOOP_PROBE_S = 0.25  # how often the event-loop lag is sampled
# Seconds; ingest lag spans a batch delay (0.2 s) up to backfills after an outage.
_LAG_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 120.0, 600.0)
_WRITE_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_ROWS = (10, 100, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000)
_LOOP_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

#: Async figures read at scrape time: name -> coroutine function returning a number.
Probe = Callable[[], Awaitable[float]]


class CloudMetrics:
    """The metrics of one cloud process; see the module docstring."""

    def __init__(
        self,
        hub: Hub,
        batcher_stats: BatcherStats,
        bus_stats: BusStats | None = None,
        *,
        pending_rows: Callable[[], int] = lambda: 0,
        intake: IntakeGate | None = None,
        probes: dict[str, tuple[str, Probe]] | None = None,
        workers: WorkerMetrics | None = None,
    ) -> None:
        #: With ``--workers``: every worker's figures in one scrape, labelled ``worker``.
        self._workers = workers
        self.registry = CollectorRegistry(auto_describe=False)
        self._commands = Counter(
            "ems_commands",
            "Command status changes on this process, by status and reason ('' when none)",
            ["status", "reason"],
            registry=self.registry,
        )
        self._command_children: dict[tuple[str, str | None], Counter] = {}
        self.ingest_lag = Histogram(
            "ems_telemetry_ingest_lag_seconds",
            "From a telemetry frame's ts (edge clock) to its rows being durable [s]",
            buckets=_LAG_BUCKETS_S,
            registry=self.registry,
        )
        self.write_seconds = Histogram(
            "ems_telemetry_write_seconds",
            "Database time of one telemetry batch write, failed ones included [s]",
            buckets=_WRITE_BUCKETS_S,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "ems_telemetry_batch_rows",
            "Rows (channel values) per telemetry database batch",
            buckets=_BATCH_ROWS,
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "ems_event_loop_lag_seconds",
            f"How late a {_LOOP_PROBE_S} s sleep on the event loop wakes up [s]",
            buckets=_LOOP_BUCKETS_S,
            registry=self.registry,
        )
        self._probes = probes or {}
        self._probed: dict[str, float] = {}
        self._snapshot = _Snapshot(
            hub, batcher_stats, bus_stats, pending_rows, self._probes, self._probed, intake
        )
        self.registry.register(self._snapshot)
        self._probe_task: asyncio.Task[None] | None = None

    def count_http_refusals(self, refused: Callable[[], int]) -> None:
        """Where the HTTP guard counts its 429s (it is built later, by Starlette)."""
        self._snapshot.http_refused = refused

    # -- hot paths -------------------------------------------------------------------
    def on_command_status(self, _tracked: object, ack: UiAck) -> None:
        """A ``Dispatcher.listeners`` callback (and for untracked refusals)."""
        key = (ack.status, ack.reason)
        child = self._command_children.get(key)
        if child is None:
            child = self._commands.labels(ack.status, ack.reason or "")
            self._command_children[key] = child
        child.inc()

    def on_refusal(self, ack: UiAck) -> None:
        self.on_command_status(None, ack)

    def on_flush(self, rows: int, seconds: float) -> None:
        """The telemetry batcher wrote (or failed to write) one batch."""
        self.write_seconds.observe(seconds)
        self.batch_rows.observe(rows)

    def on_stored(self, frame_ts: datetime) -> None:
        """One telemetry frame is durable: its lag from the edge's timestamp."""
        self.ingest_lag.observe(max(0.0, time.time() - frame_ts.timestamp()))

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self._probe_task = asyncio.create_task(self._probe_loop(), name="loop-lag-probe")
        if self._workers is not None:
            self._workers.start(self._render_own)

    async def stop(self) -> None:
        if self._workers is not None:
            await self._workers.stop()
        if self._probe_task is not None:
            self._probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe_task

    async def _probe_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(_LOOP_PROBE_S)
            self.loop_lag.observe(max(0.0, loop.time() - asked - _LOOP_PROBE_S))

    # -- scraping --------------------------------------------------------------------
    async def render(self) -> bytes:
        """The exposition text; with workers, every worker's (see ``worker_metrics``)."""
        own = await self._render_own()
        return own if self._workers is None else self._workers.merged(own)

    async def _render_own(self) -> bytes:
        """This process's exposition text; reads the async figures (Redis) first."""
        for name, (_, probe) in self._probes.items():
            try:
                self._probed[name] = float(await probe())
            except Exception:  # shown as absent rather than failing the whole scrape
                log.warning("metrics: %s unavailable", name, exc_info=True)
                self._probed.pop(name, None)
        return generate_latest(self.registry)


class _Snapshot(Collector):
    """Figures read when scraped, from the parts that keep them anyway."""

    def __init__(
        self,
        hub: Hub,
        batcher: BatcherStats,
        bus: BusStats | None,
        pending_rows: Callable[[], int],
        probes: dict[str, tuple[str, Probe]],
        probed: dict[str, float],
        intake: IntakeGate | None,
    ) -> None:
        self.http_refused: Callable[[], int] = lambda: 0
        self._intake = intake
        self._hub = hub
        self._batcher = batcher
        self._bus = bus
        self._pending_rows = pending_rows
        self._probes = probes
        self._probed = probed

    def collect(self) -> Iterable[Metric]:
        hub = self._hub
        yield _gauge("ems_edges_connected", "Edge sockets held by this process", len(hub.edges))
        yield _gauge(
            "ems_edges_stale", "Connected edges silent longer than EMS_EDGE_STALE_S", len(hub.stale)
        )
        sockets = sum(len(s) for s in hub.users.values())
        yield _gauge("ems_dashboards_connected", "Dashboard sockets on this process", sockets)
        yield _gauge("ems_dashboard_users", "Distinct users with a dashboard here", len(hub.users))
        backlog = dropped = 0
        for session in hub.edges.values():
            backlog += session.peer.backlog
            dropped += session.peer.dropped
        ui_backlog = 0
        for sessions in hub.users.values():
            for ui in sessions:
                ui_backlog += ui.peer.backlog
                dropped += ui.peer.dropped
        yield _gauge(
            "ems_socket_backlog_frames",
            "Frames queued for sending, by peer kind",
            {"edge": backlog, "dashboard": ui_backlog},
            label="peer",
        )
        yield _counter(
            "ems_socket_dropped_frames", "Live frames dropped for slow sockets (open ones)", dropped
        )
        stats = self._batcher
        yield _counter(
            "ems_telemetry_values", "Channel values stored in the database", stats.rows_written
        )
        yield _counter("ems_telemetry_batches", "Telemetry database batches", stats.batches_written)
        yield _counter(
            "ems_telemetry_write_failures", "Telemetry batches the database refused", stats.failures
        )
        yield _gauge(
            "ems_telemetry_pending_values",
            "Channel values waiting for their database batch",
            self._pending_rows(),
        )
        if self._intake is not None:
            yield from _intake_metrics(self._intake)
        if self._bus is not None:
            yield _counter(
                "ems_bus_published", "Messages published to other processes", self._bus.published
            )
            yield _counter(
                "ems_bus_dropped", "Messages to other processes dropped", self._bus.dropped
            )
            yield _counter(
                "ems_bus_received", "Messages received from other processes", self._bus.received
            )
        yield _counter(
            "ems_http_rate_limited", "HTTP requests answered 429 (rate limit)", self.http_refused()
        )
        for name, (help_text, _) in self._probes.items():
            if name in self._probed:
                yield _gauge(name, help_text, self._probed[name])


def _intake_metrics(intake: IntakeGate) -> Iterable[Metric]:
    """Back-pressure (README "Telemetry at and past capacity")."""
    yield _gauge(
        "ems_telemetry_intake_values",
        "Channel values held on their way to the database (EMS_TELEMETRY_INTAKE_ROWS at most)",
        intake.held_rows,
    )
    yield _gauge(
        "ems_telemetry_paused_edges",
        "Edge sockets not being read until their telemetry fits (back-pressure)",
        intake.waiting,
    )
    yield _gauge(
        "ems_telemetry_shedding",
        "1 while this process is past its telemetry capacity: it pushes back on edges "
        "(a socket waits for room now, or a frame was shed in the last 10 s)",
        1 if intake.shedding() else 0,
    )
    stats = intake.stats
    yield _counter(
        "ems_telemetry_read_pauses", "Times an edge socket's reading waited for room", stats.pauses
    )
    yield _counter(
        "ems_telemetry_read_paused_seconds",
        "Seconds edge sockets waited for room, summed over sockets (finished waits) [s]",
        stats.paused_s,
    )
    yield _counter(
        "ems_telemetry_shed_frames",
        "Telemetry frames read but not stored for want of room (not acked: edges resend them)",
        stats.shed_frames,
    )


def _gauge(
    name: str, help_text: str, value: float | dict[str, float], label: str = ""
) -> GaugeMetricFamily:
    if isinstance(value, dict):
        family = GaugeMetricFamily(name, help_text, labels=[label])
        for key, v in value.items():
            family.add_metric([key], v)
        return family
    return GaugeMetricFamily(name, help_text, value=value)


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def metrics_router(metrics: CloudMetrics, token: str | None) -> APIRouter:
    """``GET /metrics``; with ``token`` set, only for ``Authorization: Bearer <token>``."""
    router = APIRouter()
    expected = None if not token else f"Bearer {token}".encode()

    @router.get(
        "/metrics",
        summary="Prometheus metrics of this process",
        response_class=Response,  # the Prometheus text format, not JSON
        responses={
            200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
            401: {"description": "EMS_METRICS_TOKEN is set and was not given"},
        },
    )
    async def scrape(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                raise HTTPException(401, "metrics token required", {"WWW-Authenticate": "Bearer"})
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
