"""Heartbeats across two ``ems cloud`` processes, and ``/metrics`` scraped off a running one.

Process A serves the dashboard, process B holds a hand-driven edge; one real
Redis of this module's own and the session's PostgreSQL. ``EMS_EDGE_STALE_S``
is 1 s, so a silent edge turns stale within about two seconds (the holder
looks every second); every wait below is for a frame, with a timeout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection

from support.redis import start_redis
from support.site import CloudSite, command, edge_ack, edge_socket, next_of

EDGE = "beat-1"
METRICS_TOKEN = "scrape-me-0123456789"


@dataclass
class Pair:
    a: CloudSite
    b: CloudSite


@pytest.fixture(scope="module")
def pair(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    data = tmp_path_factory.mktemp("heartbeat")
    with start_redis() as redis:
        shared = {
            "EMS_REDIS_URL": redis.url,
            "EMS_DATABASE_URL": postgres_url,
            "EMS_EDGE_STALE_S": "1",
            "EMS_METRICS_TOKEN": METRICS_TOKEN,
        }
        a = CloudSite(data, env={**shared, "EMS_NODE_ID": "beat-a"})
        b = CloudSite(data, env={**shared, "EMS_NODE_ID": "beat-b"})
        a.create_accounts((EDGE,))
        try:
            a.start_cloud()
            b.start_cloud()
            yield Pair(a, b)
        finally:
            b.stop()
            a.stop()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _telemetry(seq: int) -> str:
    at = _now()
    values = {
        "battery_1/Soc": 50.0,
        "battery_1/MaxChargePower": 5000.0,
        "battery_1/MaxDischargePower": 5000.0,
        "battery_1/ActivePower": 0.0,
    }
    channels = {k: {"v": v, "t": at} for k, v in values.items()}
    return json.dumps({"type": "telemetry", "seq": seq, "ts": at, "channels": channels})


async def _edge(site: CloudSite) -> ClientConnection:
    ws = await edge_socket(site, EDGE, site.key(EDGE))
    assert (await next_of(ws, "auth_ok"))["type"] == "auth_ok"
    devices = [{"id": "battery_1", "profile": "battery"}]
    await ws.send(json.dumps({"type": "inventory", "devices": devices}))
    await ws.send(_telemetry(1))
    assert (await next_of(ws, "telemetry_ack", timeout_s=10))["seq"] == 1
    return ws


def _edges(site: CloudSite) -> dict[str, dict[str, object]]:
    token = site.token("vic")
    r = httpx.get(site.http("/api/edges"), headers={"Authorization": f"Bearer {token}"})
    return {e["edge_id"]: e for e in r.json()["edges"]}


@pytest.mark.asyncio
async def test_a_silent_edge_turns_stale_and_back_on_a_dashboard_of_another_process(
    pair: Pair,
) -> None:
    ui = await pair.a.ui("vic")
    edge: ClientConnection | None = None
    try:
        await ui.send(json.dumps({"type": "subscribe", "edge_id": EDGE}))
        first = await next_of(ui, "edge_status", edge_id=EDGE)
        assert (first["online"], first["stale"]) == (False, False)

        edge = await _edge(pair.b)  # held by B
        status = await next_of(ui, "edge_status", timeout_s=10, edge_id=EDGE, online=True)
        assert status["stale"] is False

        # Silent now: B marks it stale, A's dashboard hears it, both APIs say it.
        status = await next_of(ui, "edge_status", timeout_s=10, edge_id=EDGE, stale=True)
        assert status["online"] is True
        assert _edges(pair.a)[EDGE]["stale"] is True
        assert _edges(pair.b)[EDGE]["stale"] is True

        await edge.send(_telemetry(2))  # it speaks again
        status = await next_of(ui, "edge_status", timeout_s=10, edge_id=EDGE, stale=False)
        assert status["online"] is True
        assert _edges(pair.a)[EDGE]["stale"] is False

        await edge.close()
        edge = None
        status = await next_of(ui, "edge_status", timeout_s=10, edge_id=EDGE, online=False)
        assert status["stale"] is False
    finally:
        if edge is not None:
            await edge.close()
        await ui.close()


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


@pytest.mark.asyncio
async def test_metrics_after_a_command_and_some_telemetry(pair: Pair) -> None:
    site = pair.b
    http = httpx.AsyncClient()
    assert (await http.get(site.http("/metrics"))).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await http.get(site.http("/metrics"), headers=wrong)).status_code == 401

    edge = await _edge(site)
    ui = await site.ui("olga")
    try:
        for seq in (2, 3):
            await edge.send(_telemetry(seq))
            assert (await next_of(edge, "telemetry_ack", timeout_s=10))["seq"] == seq
        cmd = command(edge_id=EDGE, value=-1000)
        await ui.send(json.dumps(cmd))
        sent = await next_of(edge, "command", timeout_s=10)
        await edge_ack(edge, sent["command_id"], "delivered")
        await edge_ack(edge, sent["command_id"], "executed")
        await next_of(ui, "ack", timeout_s=10, command_id=cmd["command_id"], status="executed")

        auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        r = await http.get(site.http("/metrics"), headers=auth)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        text = r.text
    finally:
        await http.aclose()
        await ui.close()
        await edge.close()

    for status in ("received", "delivered", "executed"):
        assert _sample(text, "ems_commands_total", status=status, reason="") >= 1
    assert _sample(text, "ems_edges_connected") == 1
    assert _sample(text, "ems_dashboards_connected") == 1
    assert _sample(text, "ems_commands_in_flight") == 0
    assert _sample(text, "ems_commands_queued") == 0
    # Three frames of four values, all acked (so durable) before the scrape.
    assert _sample(text, "ems_telemetry_values_total") >= 12
    assert _sample(text, "ems_telemetry_ingest_lag_seconds_count") >= 3
    assert _sample(text, "ems_telemetry_write_seconds_count") >= 1
    assert _sample(text, "ems_telemetry_batch_rows_sum") >= 12
    assert "ems_event_loop_lag_seconds_bucket" in text
    assert "ems_http_rate_limited_total" in text
