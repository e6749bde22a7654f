"""Alarm services on a real Redis (the session's), each test under its own key prefix.

Imported by this folder's ``conftest.py`` (the fixture) and tests (the helpers)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
import redis.asyncio as redis_async

from ems.alarms import Alarm, AlarmEvent, EscalationPolicy
from ems.clock import VirtualClock
from ems.cloud.alarms import AlarmService, SharedAlarms, SqliteAlarmStore
from ems.protocol import ChannelSample


@dataclass
class Bus:
    """Stands in for the cluster's bus: delivers to every service's listeners at once."""

    services: list[AlarmService] = field(default_factory=list)
    published: list[tuple[str, str]] = field(default_factory=list)

    def publish(self, channel: str, data: str) -> None:
        self.published.append((channel, data))
        for service in self.services:
            if channel == service.changed_channel:
                service.on_changed(data.encode())
            elif channel == service.rules_channel:
                service.on_rules_changed(data.encode())


@dataclass
class Mailed:
    calls: list[tuple[str, str, int, int]] = field(default_factory=list)

    async def __call__(self, alarm: Alarm, role: str, level: int, held_back: int) -> None:
        self.calls.append((alarm.alarm_id, role, level, held_back))


@dataclass
class Cloud:
    """Two processes' alarm services on one Redis and one database."""

    clock: VirtualClock
    bus: Bus
    mailed: Mailed
    frames: list[dict[str, Any]]
    make: Callable[[], AlarmService]
    services: list[AlarmService] = field(default_factory=list)

    async def process(self) -> AlarmService:
        service = self.make()
        await service.start()
        self.services.append(service)
        self.bus.services.append(service)
        return service


def frame(clock: VirtualClock, **values: object) -> dict[str, ChannelSample]:
    """A telemetry frame's channels (``battery_1__Soc=5`` -> ``battery_1/Soc``), stamped now."""
    t = datetime.fromtimestamp(clock.time(), UTC)
    return {
        name.replace("__", "/"): ChannelSample.model_validate({"v": v, "t": t})
        for name, v in values.items()
    }


@pytest_asyncio.fixture
async def cloud(redis_url: str, tmp_path: Path) -> AsyncIterator[Cloud]:
    client = redis_async.Redis.from_url(redis_url)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    clock = VirtualClock()
    bus = Bus()
    mailed = Mailed()
    frames: list[dict[str, Any]] = []
    store = SqliteAlarmStore(tmp_path / "alarms.sqlite3")
    await store.start()

    def fan_out(event: AlarmEvent) -> None:
        frames.append(event.as_frame())

    async def known(edge_id: str) -> set[str] | None:
        return {"battery_1/Soc", "_sum/GridActivePower"} if edge_id == "site-1" else None

    def make() -> AlarmService:
        return AlarmService(
            clock,
            store,
            SharedAlarms(client, key_prefix=prefix),
            bus=bus,
            fan_out=fan_out,
            notify=mailed,
            escalation=EscalationPolicy(600.0),
            known_channels=known,
            key_prefix=prefix,
        )

    made = Cloud(clock, bus, mailed, frames, make)
    try:
        yield made
    finally:
        for service in made.services:
            await service.stop()
        await store.close()
        await client.aclose()


def events_json(frames: list[dict[str, Any]]) -> list[str]:
    return [json.dumps([f["alarm_id"], f["state"]]) for f in frames]
