"""Command records on the production backends, and through a real ``ems cloud`` process.

- the durable store's contract on PostgreSQL, plus what only it shows (a schema
  shared with telemetry, concurrent writers of one command);
- the hot copy's contract on a real redis-server;
- end to end: a real cloud (embedded stores, then PostgreSQL and a real Redis),
  a hand-driven edge socket and a dashboard socket; the HTTP API shows the
  history, a reconnecting dashboard gets the status of a queued command, and
  the database holds the records once the cloud has stopped.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio
import redis.asyncio as redis_async
from websockets.asyncio.client import ClientConnection

pytest.register_assert_rewrite("support.conformance.records")

from ems.cloud.records import (  # noqa: E402
    HotRecords,
    PostgresCommandStore,
    Recorder,
    StatusChange,
)
from ems.cloud.shared import shared_redis  # noqa: E402
from ems.cloud.telemetry import PostgresTelemetryStore  # noqa: E402
from support.conformance.records import (  # noqa: E402
    HOT_CHECKS,
    STORE_CHECKS,
    T0,
    HotCheck,
    StoreCheck,
    change,
    hot_lifecycle_redis_calls,
    info,
)
from support.processes import EmsProcess  # noqa: E402
from support.site import CloudSite, edge_ack, edge_socket, next_of  # noqa: E402


# -- PostgreSQL -------------------------------------------------------------------------
async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _new_database(postgres_url: str) -> tuple[str, str]:
    name = f"r_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f"CREATE DATABASE {name}"))
    return name, urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))


@pytest.fixture
def pg_dsn(postgres_url: str) -> Iterator[str]:
    """A new, empty database on the session's server; dropped afterwards."""
    name, dsn = _new_database(postgres_url)
    yield dsn
    asyncio.run(_admin(postgres_url, f"DROP DATABASE {name} WITH (FORCE)"))


@pytest_asyncio.fixture
async def pg_store(pg_dsn: str) -> AsyncIterator[PostgresCommandStore]:
    s = PostgresCommandStore(pg_dsn)
    await s.start()
    yield s
    await s.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("check", STORE_CHECKS.values(), ids=list(STORE_CHECKS))
async def test_postgres_contract(
    pg_store: PostgresCommandStore, pg_dsn: str, check: StoreCheck
) -> None:
    await check(pg_store, lambda: PostgresCommandStore(pg_dsn))


@pytest.mark.asyncio
async def test_postgres_schema_made_once_beside_telemetry(pg_dsn: str) -> None:
    """Several processes starting at once on an empty database: one schema, two versions."""
    stores = [PostgresCommandStore(pg_dsn) for _ in range(3)]
    telemetry = PostgresTelemetryStore(pg_dsn, pool_size=1)
    try:
        await asyncio.gather(*(s.start() for s in stores), telemetry.start())
    finally:
        await asyncio.gather(*(s.close() for s in stores), telemetry.close())
    conn = await asyncpg.connect(pg_dsn)
    try:
        versions = await conn.fetch("SELECT component, version FROM schema_version ORDER BY 1")
        assert [tuple(r) for r in versions] == [("commands", 2), ("telemetry", 2)]
        index = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'commands_edge_created'"
        )
        assert "(edge_id, created_at)" in index
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_postgres_version_1_gains_the_trace_and_keeps_its_records(pg_dsn: str) -> None:
    """The trace table is step 2: a database of the release before it is upgraded at start."""
    from ems.cloud.migrations import migrate_postgres, postgres_version
    from ems.cloud.records.postgres import MIGRATIONS

    conn = await asyncpg.connect(pg_dsn)
    try:
        async with conn.transaction():
            await migrate_postgres(
                conn, "commands", MIGRATIONS[:1], await postgres_version(conn, "commands")
            )
    finally:
        await conn.close()
    old = PostgresCommandStore(pg_dsn)
    old._pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=1)  # no start: no upgrade
    command = info()
    await old.write([change(command, "queued", T0)])
    await old.close()
    store = PostgresCommandStore(pg_dsn)
    await store.start()
    try:
        record = await store.get(command.command_id)
        assert record is not None and record.status == "queued"
        assert await store.get_trace(command.command_id) == []
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_postgres_concurrent_writers_of_the_same_commands(pg_dsn: str) -> None:
    """Two processes' stores writing events of the same commands at once, in opposite
    orders: no deadlock, no lost or duplicate event, consecutive numbers."""
    a, b = PostgresCommandStore(pg_dsn), PostgresCommandStore(pg_dsn)
    await a.start()
    await b.start()
    try:
        commands = [info() for _ in range(20)]
        firsts = [change(c, "received", T0) for c in commands]
        seconds = [change(c, "delivered", T0 + 1) for c in commands[::-1]]
        for _ in range(5):
            await asyncio.gather(a.write(firsts), b.write(seconds))  # repeats add nothing
        conn = await asyncpg.connect(pg_dsn)
        try:
            rows = await conn.fetch(
                "SELECT command_id, array_agg(seq ORDER BY seq) AS seqs,"
                " array_agg(status ORDER BY seq) AS statuses FROM command_events GROUP BY 1"
            )
        finally:
            await conn.close()
        assert len(rows) == 20
        assert all(r["seqs"] == [1, 2] for r in rows)
        assert all(sorted(r["statuses"]) == ["delivered", "received"] for r in rows)
        for c in commands:
            record = await a.get(c.command_id)
            assert record is not None
            assert record.status == "delivered", "the later status, whichever wrote last"
    finally:
        await a.close()
        await b.close()


# -- Redis ------------------------------------------------------------------------------
@pytest_asyncio.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis_async.Redis]:
    client = shared_redis(redis_url)
    yield client
    await client.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("check", HOT_CHECKS.values(), ids=list(HOT_CHECKS))
async def test_redis_hot_contract(redis_client: redis_async.Redis, check: HotCheck) -> None:
    await check(redis_client)


@pytest.mark.asyncio
async def test_redis_hot_lifecycle_calls(redis_client: redis_async.Redis) -> None:
    await hot_lifecycle_redis_calls(redis_client)


@pytest.mark.asyncio
async def test_recorder_on_postgres_and_redis(
    redis_client: redis_async.Redis, pg_store: PostgresCommandStore, pg_dsn: str
) -> None:
    hot = HotRecords(redis_client, f"test-{uuid.uuid4().hex[:8]}")
    recorder = Recorder(hot, pg_store)
    recorder.start()
    try:
        c = info(user=f"u-{uuid.uuid4().hex[:6]}")
        steps: list[StatusChange] = [
            change(c, "received", T0),
            change(c, "delivered", T0 + 0.5),
        ]
        for step in steps:
            recorder.record(step)
        (ack,) = await recorder.unfinished(c.user)
        assert (ack.command_id, ack.status) == (c.command_id, "delivered")
        recorder.record(change(c, "executed", T0 + 1))
        await recorder.flush()
        assert await recorder.unfinished(c.user) == []
    finally:
        await recorder.stop()
    fresh = PostgresCommandStore(pg_dsn)
    await fresh.start()
    try:
        record = await fresh.get(c.command_id)
    finally:
        await fresh.close()
    assert record is not None
    assert [e.status for e in record.history] == ["received", "delivered", "executed"]


# -- end to end -------------------------------------------------------------------------
@dataclass
class Cloud(CloudSite):
    """One ``ems cloud`` (see :class:`CloudSite`), and the commands the tests sent to it."""

    recorded: list[str] = field(default_factory=list)

    @property
    def process(self) -> EmsProcess:
        assert self.cloud is not None
        return self.cloud


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cloud]:
    """A real ``ems cloud``; after it stops, the records of every command the tests
    sent must be in its database (the recorder flushes on shutdown)."""
    env: dict[str, str] = {}
    database: str | None = None
    postgres_url = ""
    if request.param == "postgres":
        postgres_url = request.getfixturevalue("postgres_url")
        database, env["EMS_DATABASE_URL"] = _new_database(postgres_url)
        # Database 5 of the session's server: none of the other tests' keys.
        redis_url = request.getfixturevalue("redis_url")
        env["EMS_REDIS_URL"] = urlunsplit(urlsplit(redis_url)._replace(path="/5"))
    made = Cloud(tmp_path_factory.mktemp(f"records-{request.param}"), env=env)
    made.create_accounts(("rec-1", "rec-2"))
    try:
        made.start_cloud()
        yield made
    finally:
        made.stop()
    try:
        stored = _stored_statuses(made, env.get("EMS_DATABASE_URL"))
        for command_id in made.recorded:
            assert stored.get(command_id), f"{command_id} not in the database after shutdown"
    finally:
        if database is not None:
            asyncio.run(_admin(postgres_url, f"DROP DATABASE {database} WITH (FORCE)"))


def _stored_statuses(cloud: Cloud, dsn: str | None) -> dict[str, list[str]]:
    sql = "SELECT command_id, status FROM command_events ORDER BY command_id, seq"
    if dsn is None:
        with sqlite3.connect(cloud.data / "commands.sqlite3") as conn:
            rows = conn.execute(sql).fetchall()
        conn.close()
    else:

        async def fetch() -> list[Any]:
            conn = await asyncpg.connect(dsn)
            try:
                return list(await conn.fetch(sql))
            finally:
                await conn.close()

        rows = [tuple(r) for r in asyncio.run(fetch())]
    out: dict[str, list[str]] = {}
    for command_id, status in rows:
        out.setdefault(command_id, []).append(status)
    return out


async def edge(cloud: Cloud, edge_id: str) -> ClientConnection:
    """A hand-driven edge: authenticated, its battery reported."""
    ws = await edge_socket(cloud, edge_id, cloud.key(edge_id))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "auth_ok"
    await ws.send(
        json.dumps({"type": "inventory", "devices": [{"id": "battery_1", "profile": "battery"}]})
    )
    return ws


def command(cloud: Cloud, edge_id: str, **changes: Any) -> dict[str, Any]:
    """A ``set_mode`` command: no dynamic limits, so no telemetry is needed first."""
    frame: dict[str, Any] = {
        "type": "command",
        "command_id": str(uuid.uuid4()),
        "edge_id": edge_id,
        "device": "battery_1",
        "action": "set_mode",
        "value": "manual",
        "issued_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    frame.update(changes)
    cloud.recorded.append(frame["command_id"])
    return frame


@pytest.mark.asyncio
async def test_history_and_listing_over_http(cloud: Cloud) -> None:
    fake_edge = await edge(cloud, "rec-1")
    ui = await cloud.ui()
    try:
        cloud.process.wait_for("edge rec-1 inventory", 10)
        cmd = command(cloud, "rec-1")
        await ui.send(json.dumps(cmd))
        received = await next_of(ui, "ack", command_id=cmd["command_id"], timeout_s=10)
        assert received["status"] == "received", received
        sent = await next_of(fake_edge, "command", command_id=cmd["command_id"], timeout_s=10)
        assert (sent["action"], sent["value"], sent["user"]) == ("set_mode", "manual", "olga")
        await edge_ack(fake_edge, cmd["command_id"], "delivered")
        await edge_ack(fake_edge, cmd["command_id"], "executed")
        await next_of(ui, "ack", command_id=cmd["command_id"], status="executed", timeout_s=10)
    finally:
        await ui.close()
        await fake_edge.close()

    headers = {"Authorization": f"Bearer {cloud.token('vic')}"}  # a viewer may read
    async with httpx.AsyncClient(headers=headers) as client:
        one = await client.get(cloud.http(f"/api/commands/{cmd['command_id']}"))
        listed = await client.get(cloud.http("/api/commands"), params={"edge_id": "rec-1"})
        missing = await client.get(cloud.http(f"/api/commands/{uuid.uuid4()}"))
        malformed = await client.get(cloud.http("/api/commands"), params={"edge_id": "REC_1"})
    assert one.status_code == 200, one.text
    record = one.json()
    assert [h["status"] for h in record["history"]] == ["received", "delivered", "executed"]
    assert record["history"][0]["detail"] == "sent to rec-1"
    assert (record["status"], record["terminal"], record["user"]) == ("executed", True, "olga")
    assert (record["device"], record["action"], record["value"]) == (
        "battery_1",
        "set_mode",
        "manual",
    )
    assert listed.status_code == 200, listed.text
    newest = listed.json()["commands"][0]
    assert (newest["command_id"], newest["status"]) == (cmd["command_id"], "executed")
    assert missing.status_code == 404
    assert malformed.status_code == 422


@pytest.mark.asyncio
async def test_a_reconnecting_dashboard_gets_its_queued_command(cloud: Cloud) -> None:
    offline = await edge(cloud, "rec-2")  # the cloud learns its devices, then it goes
    cloud.process.wait_for("edge rec-2 inventory", 10)
    await offline.close()
    cloud.process.wait_for("edge rec-2 disconnected", 10)

    first = await cloud.ui()
    try:
        cmd = command(cloud, "rec-2", ttl_s=3600)
        await first.send(json.dumps(cmd))
        queued = await next_of(first, "ack", command_id=cmd["command_id"], timeout_s=10)
        assert queued["status"] == "queued", queued
    finally:
        await first.close()

    second = await cloud.ui()
    try:
        # Right after auth_ok: the catch-up acks, before anything else.
        async with asyncio.timeout(5):
            frames = [json.loads(await second.recv())]
            while frames[-1].get("command_id") != cmd["command_id"]:
                frames.append(json.loads(await second.recv()))
    finally:
        await second.close()
    assert all(f["type"] == "ack" for f in frames), frames
    caught_up = frames[-1]
    assert {k: caught_up[k] for k in ("edge_id", "status", "reason", "detail", "at")} == {
        k: queued[k] for k in ("edge_id", "status", "reason", "detail", "at")
    }

    headers = {"Authorization": f"Bearer {cloud.token('olga')}"}
    async with httpx.AsyncClient(headers=headers) as client:
        listed = await client.get(cloud.http("/api/commands"), params={"edge_id": "rec-2"})
    assert [(c["command_id"], c["status"]) for c in listed.json()["commands"]] == [
        (cmd["command_id"], "queued")
    ]
