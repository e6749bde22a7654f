"""The config versions on both backends, and the sync's rules: what is pushed, when, and
what a refusal leaves behind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from pydantic import BaseModel

from ems.cloud.configsync import (
    ConfigRefused,
    ConfigStore,
    ConfigSync,
    PostgresConfigStore,
    SqliteConfigStore,
)
from ems.cloud.hub import EdgeSession, Hub
from ems.edge.config import demo_config_path
from ems.protocol import EdgeConfigAck, EdgeConfigPush

DEMO = demo_config_path().read_text("utf-8")


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ConfigStore]:
    made: ConfigStore
    if request.param == "sqlite":
        made = SqliteConfigStore(tmp_path / "configs.sqlite3")
    else:
        made = PostgresConfigStore(request.getfixturevalue("postgres_url"))
    await made.start()
    await made.start()  # idempotent: a second process starting on the same schema
    try:
        yield made
    finally:
        await made.close()


def edge_id() -> str:
    return f"site-{uuid.uuid4().hex[:8]}"  # PostgreSQL is shared by the session


@pytest.mark.asyncio
async def test_versions_count_up_and_keep_their_fate(store: ConfigStore) -> None:
    edge = edge_id()
    first = await store.add(edge, "a: 1\n", "ada", 100.0, "first")
    second = await store.add(edge, "a: 2\n", "bob", 101.0, None)
    again = await store.add(edge, "a: 1\n", "ada", 102.0, "back", rollback_of=1)
    assert [first.version, second.version, again.version] == [1, 2, 3]
    assert (await store.add(edge_id(), "b: 1\n", "ada", 1.0, None)).version == 1, "per edge"
    await store.set_status(edge, 1, "pushed", None, None, 103.0)
    await store.set_status(edge, 1, "applied", None, None, 104.0)
    await store.set_status(edge, 1, "pushed", None, None, 105.0)  # a re-push keeps "applied"
    await store.set_status(edge, 2, "rejected", "build_failed", "controllers[0]: no", 106.0)
    history = await store.history(edge, 10)
    assert [(v.version, v.status, v.reason, v.by) for v in history] == [
        (3, "stored", None, "ada"),
        (2, "rejected", "build_failed", "bob"),
        (1, "applied", None, "ada"),
    ]
    assert history[0].rollback_of == 1 and history[0].comment == "back"
    assert [v.version for v in await store.history(edge, 1)] == [3]
    assert await store.get(edge, 9) is None


class FakePeer:
    def __init__(self) -> None:
        self.frames: list[BaseModel] = []
        self.got = asyncio.Event()

    def send(self, frame: BaseModel, droppable: bool = False) -> bool:
        self.frames.append(frame)
        self.got.set()
        return True


def online(hub: Hub, edge: str) -> FakePeer:
    peer = FakePeer()
    hub.attach_edge(EdgeSession(edge, peer))  # type: ignore[arg-type]
    return peer


def demo(target_grid_w: Any) -> str:
    doc = yaml.safe_load(DEMO)
    doc["controllers"][0]["params"]["target_grid_w"] = target_grid_w
    return yaml.safe_dump(doc)


@pytest.mark.asyncio
async def test_refused_configs_store_nothing_and_name_the_field(tmp_path: Path) -> None:
    store = SqliteConfigStore(tmp_path / "c.sqlite3")
    await store.start()
    try:
        sync = ConfigSync(store, Hub(), None)
        with pytest.raises(ConfigRefused) as refused:
            await sync.put("site-1", demo("lots"), "ada", None)
        assert refused.value.reason == "invalid_config"
        assert "controllers[0].params.target_grid_w" in refused.value.detail
        with pytest.raises(ConfigRefused) as other:
            await sync.put("site-2", demo(0), "ada", None)  # the demo is site-1
        assert other.value.reason == "wrong_edge"
        with pytest.raises(ConfigRefused) as broken:
            await sync.put("site-1", "devices: [", "ada", None)
        assert broken.value.reason == "invalid_yaml"
        assert await store.history("site-1", 10) == []
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_pushed_when_online_again_when_behind_never_after_a_rejection(
    tmp_path: Path,
) -> None:
    store = SqliteConfigStore(tmp_path / "c.sqlite3")
    await store.start()
    try:
        hub = Hub()
        sync = ConfigSync(store, hub, None)
        stored = await sync.put("site-1", demo(100), "ada", "offline")
        assert stored.status == "stored"
        peer = online(hub, "site-1")
        await sync.on_inventory("site-1", None)  # runs its local file: behind
        [push] = peer.frames
        assert isinstance(push, EdgeConfigPush) and push.version == 1
        assert push.config["controllers"][0]["params"]["target_grid_w"] == 100
        assert (await store.get("site-1", 1)).status == "pushed"  # type: ignore[union-attr]
        await sync.on_ack("site-1", EdgeConfigAck(type="config_ack", version=1, status="applied"))
        await sync.on_inventory("site-1", 1)  # up to date: nothing
        assert len(peer.frames) == 1
        await sync.put("site-1", demo(200), "ada", None)  # online: pushed at once
        assert [f.version for f in peer.frames] == [1, 2]  # type: ignore[attr-defined]
        await sync.on_ack(
            "site-1",
            EdgeConfigAck(
                type="config_ack", version=2, status="rejected", reason="build_failed", detail="x"
            ),
        )
        await sync.on_inventory("site-1", 1)  # the edge answered: not pushed again
        assert len(peer.frames) == 2
        back = await sync.rollback("site-1", 1, "ada", None)
        assert back is not None and (back.version, back.rollback_of) == (3, 1)
        assert [f.version for f in peer.frames] == [1, 2, 3]  # type: ignore[attr-defined]
        assert await sync.rollback("site-1", 42, "ada", None) is None
    finally:
        await store.close()


class FakeBus:
    """Every process's listeners of a channel, called as Redis would (bytes, on the loop)."""

    def __init__(self) -> None:
        self.listeners: dict[str, list[Any]] = {}

    def publish(self, channel: str, data: str) -> None:
        for listener in self.listeners.get(channel, []):
            listener(data.encode())


class FakeCluster:
    def __init__(self, bus: FakeBus, hub: Hub) -> None:
        self.bus = bus
        self._hub = hub

    def listen(self, channel: str, handler: Any) -> None:
        self.bus.listeners.setdefault(channel, []).append(handler)

    def to_subscribers(self, edge_id: str, kind: str, frame_text: str) -> None:
        pass


@pytest.mark.asyncio
async def test_a_version_stored_on_one_process_reaches_the_edge_held_by_another(
    tmp_path: Path,
) -> None:
    store = SqliteConfigStore(tmp_path / "c.sqlite3")  # the shared database
    await store.start()
    try:
        bus = FakeBus()
        here, there = Hub(), Hub()
        api_process = ConfigSync(store, here, FakeCluster(bus, here))  # type: ignore[arg-type]
        edge_process = ConfigSync(store, there, FakeCluster(bus, there))  # type: ignore[arg-type]
        api_process.listen()
        edge_process.listen()
        peer = online(there, "site-1")
        await api_process.put("site-1", demo(250), "ada", None)
        await asyncio.wait_for(peer.got.wait(), 5)  # the holder pushes from a task of its own
        [push] = peer.frames
        assert isinstance(push, EdgeConfigPush) and push.version == 1
    finally:
        await store.close()
