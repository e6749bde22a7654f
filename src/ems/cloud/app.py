"""The cloud application: FastAPI with the two WebSocket endpoints, the API and /auth."""

from __future__ import annotations

import gc
import importlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from ems.clock import RealClock
from ems.cloud.alarms.wiring import AlarmParts, build_alarms
from ems.cloud.anomaly_watch import AnomalyWatch
from ems.cloud.api import build_router
from ems.cloud.audit_api import audit_router
from ems.cloud.auth.jwt import AuthError, Claims, JwksProvider, JwtVerifier, jwks_from_url
from ems.cloud.auth.port import AuthPort, InProcessAuth
from ems.cloud.auth.remote import JWKS_PATH, HttpAuth
from ems.cloud.auth.revocations import Revocations
from ems.cloud.cluster import Cluster, ClusterLink
from ems.cloud.commands import Dispatcher
from ems.cloud.commands.checks import bounding_channel_names
from ems.cloud.configsync import ConfigSync, config_store
from ems.cloud.configsync.routes import build_config_router
from ems.cloud.cors import DashboardCors
from ems.cloud.edge_guard import EdgeGuard
from ems.cloud.energy_api import build_energy_router
from ems.cloud.http_guard import HttpGuard, HttpGuardStats
from ems.cloud.hub import Hub
from ems.cloud.metrics import CloudMetrics, metrics_router
from ems.cloud.records import (
    CommandStore,
    EdgeTraceIntake,
    HotRecords,
    Recorder,
    command_store,
)
from ems.cloud.report_mail.wiring import build_report_mail
from ems.cloud.reports_api import build_reports_router
from ems.cloud.settings import CloudSettings
from ems.cloud.shared import InFlight, Inventories, OfflineQueue, shared_redis
from ems.cloud.sites_summary_api import build_sites_summary_router
from ems.cloud.static import mount_dashboard
from ems.cloud.telemetry import (
    PostgresTelemetryStore,
    SqliteTelemetryStore,
    TelemetryBatcher,
    TelemetryDecoder,
    TelemetryStore,
)
from ems.cloud.telemetry.intake import IntakeGate
from ems.cloud.worker_metrics import WorkerMetrics
from ems.cloud.ws_edge import EdgeEndpoint
from ems.cloud.ws_ui import UiEndpoint
from ems.profiles import builtin_profiles
from ems.ratelimit import CommandGuard, Rate, RedisLimiter
from ems.reports import ReportSite, load_sites_file

__all__ = ["EMBEDDED_AUTH_MODULE", "CloudParts", "create_app"]

#: The auth service in this process (Django), loaded only when the settings choose it.
EMBEDDED_AUTH_MODULE = "ems.authsvc.embedded"

log = logging.getLogger(__name__)


@dataclass
class CloudParts:
    """What the app is made of, exposed for tests and the demo."""

    settings: CloudSettings
    hub: Hub
    cluster: Cluster
    dispatcher: Dispatcher
    store: TelemetryStore
    batcher: TelemetryBatcher
    records: Recorder
    command_store: CommandStore
    edge_guard: EdgeGuard | None = None
    http_guard: HttpGuardStats | None = None
    metrics: CloudMetrics | None = None
    revocations: Revocations | None = None
    alarms: AlarmParts | None = None
    config_sync: ConfigSync | None = None


def _telemetry_store(settings: CloudSettings) -> PostgresTelemetryStore | SqliteTelemetryStore:
    if settings.database_url:
        # The batcher's writers, plus connections for history and latest-value reads.
        return PostgresTelemetryStore(
            settings.database_url,
            pool_size=settings.telemetry_write_concurrency + 2,
            latest_every_s=settings.telemetry_latest_every_s,
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteTelemetryStore(settings.data_dir / "telemetry.sqlite3")


def _auth_port(settings: CloudSettings) -> AuthPort:
    """The auth service the settings choose (``EMS_AUTH_BACKEND``)."""
    if settings.auth_backend == "http":
        assert settings.auth_url is not None
        assert settings.auth_service_token is not None
        return HttpAuth(
            settings.auth_url,
            settings.auth_service_token.get_secret_value(),
            timeout_s=settings.auth_timeout_s,
        )
    # By name: the embedded adapter is the auth service's (Django); the cloud
    # itself never imports it, so it runs where Django is not installed.
    embedded = importlib.import_module(EMBEDDED_AUTH_MODULE)
    port: AuthPort = embedded.EmbeddedAuth(
        settings.data_dir, settings.auth_database_url, settings.redis_url
    )
    return port


def _metrics(
    hub: Hub,
    batcher: TelemetryBatcher,
    cluster: Cluster,
    inflight: InFlight,
    queue: OfflineQueue,
    dispatcher: Dispatcher,
    intake: IntakeGate,
    settings: CloudSettings,
) -> CloudMetrics:
    """This process's metrics, hooked to the parts that report to them."""

    async def in_flight() -> float:
        return await inflight.count()

    async def queued() -> float:
        return await queue.total_depth()

    metrics = CloudMetrics(
        hub,
        batcher.stats,
        cluster.bus.stats,
        pending_rows=lambda: batcher.pending_rows,
        intake=intake,
        # A worker of `ems cloud --workers N`: one scrape shows every worker.
        workers=None
        if settings.supervisor_pid is None
        else WorkerMetrics(settings.data_dir / "metrics-workers", settings.node_id),
        probes={
            "ems_commands_in_flight": (
                "Commands sent, awaiting a final status (all processes)",
                in_flight,
            ),
            "ems_commands_queued": (
                "Commands waiting in offline edges' queues (all processes)",
                queued,
            ),
        },
    )
    dispatcher.listeners.append(metrics.on_command_status)
    dispatcher.refusal_listeners.append(metrics.on_refusal)
    batcher.on_flush = metrics.on_flush
    return metrics


def _database_revocations(auth: InProcessAuth) -> Callable[[], Awaitable[dict[str, float]]]:
    """Revocations in the auth database of this process (a safety net beside Redis)."""

    async def read() -> dict[str, float]:
        return await auth.recent_revocations(time.time() - await auth.revocation_horizon_s())

    return read


def _report_sites(settings: CloudSettings) -> dict[str, ReportSite]:
    """Read at start, so a broken sites file stops the cloud with a message naming the field."""
    return {} if settings.report_sites is None else load_sites_file(settings.report_sites)


def create_app(
    settings: CloudSettings | None = None,
    *,
    telemetry_store: PostgresTelemetryStore | SqliteTelemetryStore | None = None,
) -> FastAPI:
    """The cloud app. ``telemetry_store`` replaces the one the settings choose (a seam
    for tests, e.g. a store throttled to a known rate)."""
    settings = settings or CloudSettings()
    hub = Hub(stale_after_s=settings.edge_stale_s)
    redis = shared_redis(settings.redis_url)
    # The sending half first: the command path publishes through it, and the
    # cluster (made once the command path exists) reads what comes back.
    link = ClusterLink(redis, settings.node_id, registry_ttl_s=settings.registry_ttl_s)
    store = telemetry_store or _telemetry_store(settings)

    async def stored_latest(
        edge_id: str, addresses: Sequence[str]
    ) -> dict[str, tuple[object, float]]:
        found = await store.latest(edge_id, addresses)
        return {a: (v.value if v.text is None else v.text, v.time_s) for a, v in found.items()}

    inventories = Inventories(redis)
    limiter = RedisLimiter(redis)
    http_stats = HttpGuardStats()
    edge_guard = EdgeGuard(
        limiter,
        login_failures=Rate(
            settings.edge_login_failures_per_min / 60.0, settings.edge_login_failures_burst
        ),
        acks=Rate(settings.ack_rate_per_s, settings.ack_burst),
        clock=time.time,
    )
    inflight = InFlight(redis)
    offline_queue = OfflineQueue(redis, limit=settings.queue_limit)
    profiles = builtin_profiles()
    dispatcher = Dispatcher(
        hub,
        profiles,
        inflight,
        offline_queue,
        inventories,
        worker_id=settings.node_id,
        watchdog_s=settings.watchdog_s,
        ack_allowance_s=settings.ack_allowance_s,
        queue_offline=settings.queue_offline,
        peers=link,
        remote_latest=stored_latest,
        guard=CommandGuard(
            limiter,
            Rate(settings.command_rate_per_s, settings.command_burst),
            replay_ttl_s=settings.replay_window_s,
            max_skew_s=settings.max_clock_skew_s,
        ),
    )
    cluster = Cluster(link, hub, inbox=dispatcher)
    batcher = TelemetryBatcher(
        store,
        max_rows=settings.telemetry_batch_rows,
        max_delay_s=settings.telemetry_batch_delay_s,
        max_concurrent=settings.telemetry_write_concurrency,
    )
    commands = command_store(settings.database_url, settings.data_dir)
    records = Recorder(HotRecords(redis), commands)
    dispatcher.listeners.append(records.on_status)
    dispatcher.audit.listeners.append(records.on_audit)  # the cloud's waypoints, per command

    def sent_to(command_id: str) -> str | None:
        tracked = dispatcher.commands.get(command_id)
        return None if tracked is None else tracked.edge_id

    edge_trace = EdgeTraceIntake(records, sent_to, dispatcher.audit, time.time)
    intake = IntakeGate(settings.telemetry_intake_rows)
    metrics = _metrics(hub, batcher, cluster, inflight, offline_queue, dispatcher, intake, settings)
    metrics.count_http_refusals(lambda: http_stats.refused)
    auth = _auth_port(settings)
    in_process = auth if isinstance(auth, InProcessAuth) else None
    jwks: JwksProvider = auth.jwks
    if settings.auth_url and settings.auth_backend == "embedded":
        # Keys from the auth service at EMS_AUTH_URL; edge keys from the shared database.
        client = httpx.AsyncClient(timeout=5.0)
        jwks = jwks_from_url(settings.auth_url.rstrip("/") + JWKS_PATH, client)
    verifier = JwtVerifier(jwks, settings.jwt_issuer, settings.jwt_audience)
    revocations = Revocations(
        redis,
        hub,
        refresh_s=settings.revocation_refresh_s,
        extra_source=None
        if settings.auth_url or in_process is None
        else _database_revocations(in_process),
    )
    cluster.listen(revocations.channel, revocations.on_message)
    alarms = build_alarms(
        settings,
        redis,
        hub,
        cluster,
        store,
        inventories,
        directory=None if settings.auth_url or in_process is None else in_process.alarm_recipients,
    )
    report_sites = _report_sites(settings)
    report_mail = build_report_mail(settings, store, report_sites)
    anomaly_watch = (
        AnomalyWatch(store, store, report_sites, alarms.service, RealClock())
        if settings.anomaly_alarms
        else None
    )
    config_sync = ConfigSync(config_store(settings.database_url, settings.data_dir), hub, cluster)
    config_sync.listen()

    async def verify(token: str) -> Claims:
        claims = await verifier.verify(token)
        if revocations.revoked(claims.username, claims.iat):
            raise AuthError("revoked", "the session was ended (logout or revoked): sign in again")
        return claims

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await store.start()
        await commands.start()
        await config_sync.store.start()
        records.start()
        await cluster.start()
        await revocations.start()  # after subscribing: nothing published meanwhile is missed
        await dispatcher.start()
        await alarms.start()
        await report_mail.start()
        if anomaly_watch is not None:
            anomaly_watch.start()
        metrics.start()
        # Everything made so far (Django, pydantic schemas, profiles) lives as long
        # as the process: move it out of the collector's sight. A full collection
        # otherwise walks it all, a pause of 50-75 ms in the middle of commands.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await metrics.stop()
            if anomaly_watch is not None:
                await anomaly_watch.stop()
            await report_mail.stop()
            await alarms.stop()
            await dispatcher.stop()
            await revocations.stop()
            await cluster.stop()
            await records.stop()  # writes every status reported so far, then ends
            await batcher.close()
            await store.close()
            await commands.close()
            await config_sync.store.close()
            await redis.aclose()
            await auth.aclose()

    app = FastAPI(
        title="EMS cloud",
        version="0.1.0",
        lifespan=lifespan,
        description="Edges and dashboards over WebSockets, command dispatch, telemetry.",
    )
    app.state.parts = CloudParts(
        settings,
        hub,
        cluster,
        dispatcher,
        store,
        batcher,
        records=records,
        command_store=commands,
        edge_guard=edge_guard,
        http_guard=http_stats,
        metrics=metrics,
        revocations=revocations,
        alarms=alarms,
        config_sync=config_sync,
    )
    app.add_middleware(
        DashboardCors,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
    )
    app.add_middleware(
        HttpGuard,  # outermost: limits before any work, headers on every response
        limiter=limiter,
        rate=Rate(settings.http_rate_per_s, settings.http_burst),
        clock=time.time,
        allowed_origins=settings.allowed_origins,
        hsts_max_age_s=settings.hsts_max_age_s,
        stats=http_stats,
    )

    def origin_allowed(websocket: WebSocket) -> bool:
        origin = websocket.headers.get("origin")
        if origin is None:  # not a browser
            return True
        if origin in settings.allowed_origins:
            return True
        return urlsplit(origin).netloc == websocket.headers.get("host")

    edge_endpoint = EdgeEndpoint(
        hub,
        dispatcher,
        batcher,
        auth.check_edge_key,
        settings,
        cluster,
        edge_guard,
        trace=edge_trace.accept,
        on_stored=metrics.on_stored,
        alarms=alarms.service,
        config_sync=config_sync,
        intake=intake,
        # Commands look up only the channels that bound them: an edge's other
        # latest values would cost memory per edge and are in the store anyway.
        decoder=TelemetryDecoder(latest_channels=bounding_channel_names(profiles)),
    )
    # Starlette's own route, not FastAPI's: it takes no dependencies, and FastAPI's
    # keeps two AsyncExitStacks (a deque each) per socket for as long as an edge is
    # connected, thousands of them on one process.
    app.router.routes.append(WebSocketRoute("/ws/edge", edge_endpoint.__call__))
    app.add_api_websocket_route(
        "/ws/ui",
        UiEndpoint(
            hub,
            dispatcher,
            verify,
            settings,
            origin_allowed,
            cluster,
            records.unfinished,
            revocations=revocations,
        ),
    )
    app.include_router(
        build_router(hub, store, verify, records=records, cluster=cluster, inventories=inventories)
    )

    app.include_router(build_config_router(config_sync, verify))
    # Before the energy route: "/subscriptions" is a path of its own, not a report kind.
    app.include_router(report_mail.router(verify))
    app.include_router(build_reports_router(store, verify, report_sites))
    app.include_router(alarms.router(verify))
    app.include_router(build_energy_router(store, verify))
    app.include_router(
        build_sites_summary_router(
            cluster, store.latest, lambda: alarms.service.alarms(None, None), verify
        )
    )
    app.include_router(
        audit_router(
            verify,
            records.list_for_edge,
            None if in_process is None else in_process.audit_entries,
        )
    )
    app.include_router(metrics_router(metrics, settings.metrics_token))

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "node_id": settings.node_id,
            "edges_online": len(hub.edges),
            "dashboards": len(hub.users),
        }

    if in_process is not None and not settings.auth_url:
        app.mount("/auth", in_process.asgi_app())
    mount_dashboard(app)  # last: it takes every path no route above took
    return app
