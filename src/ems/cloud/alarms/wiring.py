"""Building the cloud's alarm parts from its settings and the parts they attach to."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Container, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

import redis.asyncio as redis_async
from fastapi import APIRouter

from ems.alarms import AlarmEvent, EscalationPolicy
from ems.clock import RealClock
from ems.cloud.alarms import alarm_store
from ems.cloud.alarms.notify import Directory, MailNotifier
from ems.cloud.alarms.outbox import Outbox
from ems.cloud.alarms.routes import alarm_router
from ems.cloud.alarms.service import AlarmService
from ems.cloud.alarms.shared_state import SharedAlarms
from ems.cloud.alarms.smtp import parse_smtp_url, send_mail
from ems.cloud.alarms.store import AlarmStore
from ems.cloud.auth.jwt import Claims
from ems.cloud.background import BackgroundLoop
from ems.cloud.cluster import Cluster
from ems.cloud.hub import Hub
from ems.cloud.settings import CloudSettings
from ems.cloud.shared import Inventories
from ems.cloud.telemetry import TelemetryStore
from ems.profiles import builtin_profiles
from ems.protocol import EdgeStatus

__all__ = ["AlarmParts", "build_alarms", "presence"]

log = logging.getLogger(__name__)


@dataclass
class AlarmParts:
    service: AlarmService
    store: AlarmStore
    cluster: Cluster
    upkeep_s: float
    offline_after_s: float
    outbox: Outbox | None = None
    _upkeep_loop: BackgroundLoop | None = field(default=None, repr=False)

    async def start(self) -> None:
        await self.store.start()
        await self.service.start()
        if self.outbox is not None:
            self.outbox.start()
        self._upkeep_loop = BackgroundLoop("alarm-upkeep", self._upkeep)
        self._upkeep_loop.start()

    async def stop(self) -> None:
        if self._upkeep_loop is not None:
            await self._upkeep_loop.stop()
        if self.outbox is not None:
            await self.outbox.stop()
        await self.service.stop()
        await self.store.close()

    def router(self, verify: Callable[[str], Awaitable[Claims]]) -> APIRouter:
        return alarm_router(self.service, verify)

    async def _upkeep(self) -> None:
        while True:
            await asyncio.sleep(self.upkeep_s)
            try:
                edges = await self.cluster.known_edges()
                statuses = await self.cluster.statuses(edges)
                await self.service.upkeep(presence(statuses, time.time(), self.offline_after_s))
            except Exception:
                log.exception("alarm upkeep failed; trying again in %.0f s", self.upkeep_s)


def presence(
    statuses: Mapping[str, EdgeStatus], now_s: float, offline_after_s: float
) -> dict[str, tuple[bool, bool]]:
    """``(online, stale)`` per edge for the upkeep; an edge gone for less than
    ``offline_after_s`` counts as online (a cloud restart, an edge moving: no alarm)."""
    out = {}
    for edge_id, status in statuses.items():
        seen_s = None if status.last_seen is None else status.last_seen.timestamp()
        long_gone = seen_s is None or now_s - seen_s > offline_after_s
        out[edge_id] = (status.online or not long_gone, status.stale)
    return out


async def _nobody(edge_id: str, role: str) -> list[str]:
    log.warning("alarm e-mail: users live in the external auth service; nobody mailed")
    return []


def build_alarms(
    settings: CloudSettings,
    redis: redis_async.Redis,
    hub: Hub,
    cluster: Cluster,
    telemetry: TelemetryStore,
    inventories: Inventories,
    *,
    directory: Directory | None = None,
) -> AlarmParts:
    """``directory``: who gets alarm e-mails (the auth service in this process); ``None``:
    nobody (the users live in an external auth service)."""
    clock = RealClock()
    profiles = builtin_profiles()

    async def known_channels(edge_id: str) -> Container[str] | None:
        names = set(hub.latest.get(edge_id, {}))
        names.update(await telemetry.latest(edge_id))
        for device in await inventories.get(edge_id) or []:
            profile = profiles.get(device.get("profile", ""))
            if profile is not None:
                names.update(f"{device['id']}/{c}" for c in profile.channels)
        return names or None

    def fan_out(event: AlarmEvent) -> None:
        cluster.alarm(event.edge_id, json.dumps(event.as_frame()))

    outbox: Outbox | None = None
    notify = None
    if settings.smtp_url is not None and settings.smtp_url.get_secret_value():
        target = parse_smtp_url(settings.smtp_url.get_secret_value())

        async def send(message: EmailMessage) -> None:
            await send_mail(target, message)

        outbox = Outbox(
            redis,
            send,
            clock,
            sender=settings.smtp_from,
            backoff_s=settings.alarm_mail_backoff_s,
            max_attempts=settings.alarm_mail_max_attempts,
        )
        notify = MailNotifier(directory or _nobody, outbox)
        log.info("alarm e-mails go through %s", target.where)
    store = alarm_store(settings.database_url, settings.data_dir)
    service = AlarmService(
        clock,
        store,
        SharedAlarms(redis),
        bus=cluster.bus,
        fan_out=fan_out,
        notify=notify,
        escalation=EscalationPolicy(settings.alarm_escalate_after_s),
        known_channels=known_channels,
        max_clock_drift_s=settings.alarm_clock_drift_s,
        dropped_clear_s=settings.alarm_dropped_clear_s,
    )
    cluster.listen(service.rules_channel, service.on_rules_changed)
    cluster.listen(service.changed_channel, service.on_changed)
    return AlarmParts(
        service, store, cluster, settings.alarm_upkeep_s, settings.alarm_offline_after_s, outbox
    )
