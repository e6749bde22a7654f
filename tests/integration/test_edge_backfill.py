"""A real ``ems edge`` outlives a crash of the real ``ems cloud``: no second of telemetry is lost.

The cloud (PostgreSQL telemetry) is killed while the edge runs; the edge
buffers its frames, and after the cloud is back it backfills them beside
its live frames. Afterwards the stored history of the cycle index has every
cycle exactly once, one second apart, and the latest-value table shows the
newest cycle (the backfill never moved it back). The edge's own ``/metrics``
is what the test watches.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ems.edge.config import demo_config_path
from support.processes import EmsProcess
from support.site import CloudSite, command, edge_socket, next_of

pytestmark = pytest.mark.asyncio

EDGE = "site-1"
TIMEOUT_S = 60.0


@pytest.fixture
def database(postgres_url: str) -> str:
    """A database of this test's own on the session's server."""
    name = "edge_backfill"

    async def create() -> None:
        conn = await asyncpg.connect(postgres_url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name}")
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()

    asyncio.run(create())
    return postgres_url.rsplit("/", 1)[0] + "/" + name


def edge_config(path: Path) -> Path:
    """The demo site with /metrics on a free loopback port."""
    document = yaml.safe_load(demo_config_path().read_text("utf-8"))
    document["metrics"] = {"enabled": True, "host": "127.0.0.1", "port": 0}
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def metrics(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def until(port: int, what: str, predicate: object) -> dict[str, float]:
    """Poll the edge's /metrics until ``predicate(samples)`` holds (or fail after a timeout)."""
    deadline = time.monotonic() + TIMEOUT_S
    samples: dict[str, float] = {}
    while time.monotonic() < deadline:
        samples = await asyncio.to_thread(metrics, port)
        if predicate(samples):  # type: ignore[operator]
            return samples
        # A condition on another process's state: re-check a few times a second.
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {samples}")


async def test_a_cloud_crash_leaves_no_gap_in_the_stored_history(
    database: str, tmp_path: Path
) -> None:
    site = CloudSite(tmp_path, env={"EMS_DATABASE_URL": database})
    site.create_accounts((EDGE,))
    site.start_cloud()
    edge = EmsProcess(
        [
            "edge",
            "--config",
            str(edge_config(tmp_path / "site.yaml")),
            "--cloud",
            f"http://{site.base}",
            "--api-key-file",
            str(site.key_file(EDGE)),
            "--data-dir",
            str(tmp_path / "edge-data"),
            "--no-table",
        ]
    )
    try:
        line = edge.wait_for("edge metrics on http://", TIMEOUT_S)
        match = re.search(r":(\d+)/metrics", line)
        assert match is not None, line
        port = int(match.group(1))
        await until(port, "a connection", lambda s: s["ems_edge_telemetry_frames_acked_total"] >= 3)

        assert site.cloud is not None
        site.cloud.kill()  # a crash: frames in its queue are never acked
        outage = await until(
            port,
            "ten seconds of frames buffered",
            lambda s: (
                s["ems_edge_link_connected"] == 0 and s["ems_edge_telemetry_buffer_frames"] >= 10
            ),
        )
        assert outage["ems_edge_telemetry_buffer_durable"] == 1
        site.start_cloud()
        done = await until(
            port,
            "the backlog to be backfilled",
            lambda s: (
                s["ems_edge_link_connected"] == 1
                and s['ems_edge_telemetry_frames_sent_total{kind="backfill"}'] >= 10
                and s["ems_edge_telemetry_buffer_frames"] <= 1
            ),
        )
        assert (
            sum(v for k, v in done.items() if k.startswith("ems_edge_telemetry_frames_dropped"))
            == 0
        )
        assert done['ems_edge_telemetry_frames_sent_total{kind="live"}'] > 0
    finally:
        edge.stop()
        site.stop()

    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            "SELECT time, value FROM telemetry WHERE edge_id = $1 AND channel = '_cycle/Index' "
            "ORDER BY time",
            EDGE,
        )
        latest = await conn.fetchrow(
            "SELECT time, value FROM telemetry_latest "
            "WHERE edge_id = $1 AND channel = '_cycle/Index'",
            EDGE,
        )
    finally:
        await conn.close()
    indexes = [int(r["value"]) for r in rows]
    # Every cycle exactly once, in order, from the first to the last: no gap, no duplicate.
    assert indexes == list(range(indexes[0], indexes[0] + len(indexes))), indexes
    assert indexes[0] == 0  # from the edge's first cycle on
    steps_s = [(b["time"] - a["time"]).total_seconds() for a, b in itertools.pairwise(rows)]
    assert max(steps_s) < 1.5, max(steps_s)  # every second covered
    assert latest is not None
    assert (latest["time"], int(latest["value"])) == (rows[-1]["time"], indexes[-1])
    assert len(indexes) >= 13  # 3 before the crash, 10 during the outage, then more


async def test_backfilled_frames_are_stored_but_never_live(tmp_path: Path) -> None:
    """A hand-driven edge sends a live frame, then a 10-minute-old backfilled one."""
    site = CloudSite(tmp_path)
    site.create_accounts(("site-2",))
    site.start_cloud()
    edge = await edge_socket(site, "site-2", site.key("site-2"))
    ui = await site.ui()
    try:
        assert json.loads(await asyncio.wait_for(edge.recv(), 5))["type"] == "auth_ok"
        inventory = {"type": "inventory", "devices": [{"id": "battery_1", "profile": "battery"}]}
        await edge.send(json.dumps(inventory))
        await ui.send(json.dumps({"type": "subscribe", "edge_id": "site-2"}))

        async def report(
            seq: int, age_s: float, index: int, max_charge_w: float, **extra: Any
        ) -> None:
            at = (datetime.now(UTC) - timedelta(seconds=age_s)).isoformat()
            frame = {
                "type": "telemetry",
                "seq": seq,
                "ts": at,
                "channels": {
                    "_cycle/Index": {"v": index, "t": at},
                    "battery_1/MaxChargePower": {"v": max_charge_w, "t": at},
                    "battery_1/MaxDischargePower": {"v": 3000.0, "t": at},
                },
                **extra,
            }
            await edge.send(json.dumps(frame))
            ack = json.loads(await asyncio.wait_for(edge.recv(), 10))
            assert ack == {"type": "telemetry_ack", "seq": seq}

        await report(1, 0, 600, 4000.0)
        await report(0, 600, 0, 100.0, backfill=True)  # stored and acked, but old
        await report(2, 0, 601, 4000.0)
        live = [await next_of(ui, "telemetry", timeout_s=5) for _ in range(2)]
        assert [f["channels"]["_cycle/Index"]["v"] for f in live] == [600, 601]
        # Dynamic limits still come from the newest telemetry: 4000 W, fresh.
        cmd = command(edge_id="site-2", value=-2000)
        await ui.send(json.dumps(cmd))
        verdict = await next_of(ui, "ack", command_id=cmd["command_id"])
        assert (verdict["status"], verdict["reason"]) == ("received", None)
    finally:
        await ui.close()
        await edge.close()
        site.stop()
    with sqlite3.connect(tmp_path / "telemetry.sqlite3") as db:
        history = db.execute(
            "SELECT value FROM telemetry WHERE edge_id = 'site-2' AND channel = '_cycle/Index' "
            "ORDER BY time"
        ).fetchall()
        latest = db.execute(
            "SELECT value FROM telemetry_latest "
            "WHERE edge_id = 'site-2' AND channel = '_cycle/Index'"
        ).fetchone()
    assert history == [(0.0,), (600.0,), (601.0,)]
    assert latest == (601.0,)
