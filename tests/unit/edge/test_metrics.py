"""``/metrics`` of a running edge, scraped over HTTP while it talks to a (fake) cloud."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from ems.clock import RealClock
from ems.edge.config import CycleConfig, load_edge_config
from ems.edge.link import Backoff, CloudLink
from ems.edge.metrics import EdgeMetrics, serve_metrics
from ems.edge.runtime import EdgeRuntime
from support.fake_cloud import TIMEOUT_S, FakeCloud

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def edge() -> AsyncIterator[EdgeRuntime]:
    config = load_edge_config(None).model_copy(update={"cycle": CycleConfig(period_s=0.05)})
    runtime = EdgeRuntime(config, RealClock())
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    yield runtime
    stop.set()
    await asyncio.wait_for(task, TIMEOUT_S)


async def scrape(port: int) -> dict[str, float]:
    """Every sample as ``name{label="v",…}`` -> value."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT_S)
    assert response.status_code == 200
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def test_a_running_edge_serves_its_metrics(edge: EdgeRuntime, tmp_path: Path) -> None:
    async with FakeCloud() as cloud:
        link = CloudLink(
            edge,
            cloud.url,
            "metrics-key",
            tmp_path,
            backoff=Backoff.immediate(),
            refresh_profiles=False,
        )
        metrics = EdgeMetrics(edge, link)
        with serve_metrics(metrics, "127.0.0.1", 0) as port:
            stop = asyncio.Event()
            task = asyncio.create_task(link.run(stop))
            try:
                command = cloud.command(value=-500.0)
                await cloud.send(command)
                await cloud.ack_for(command.command_id, "executed")
                for _ in range(3):
                    await cloud.next("telemetry")
                samples = await scrape(port)
            finally:
                stop.set()
                await asyncio.wait_for(task, TIMEOUT_S)
    assert samples["ems_edge_cycles_total"] >= 3
    assert samples["ems_edge_cycle_duration_seconds_count"] >= 3
    assert samples["ems_edge_cycle_start_jitter_seconds_count"] >= 3
    assert samples["ems_edge_cycle_overruns_total"] >= 0
    assert samples["ems_edge_controller_errors_total"] == 0
    assert samples["ems_edge_link_connected"] == 1
    assert samples['ems_edge_telemetry_frames_sent_total{kind="live"}'] >= 3
    assert samples["ems_edge_telemetry_frames_acked_total"] >= 1
    assert samples['ems_edge_telemetry_frames_dropped_total{reason="size"}'] == 0
    assert samples["ems_edge_telemetry_buffer_durable"] == 1
    assert "ems_edge_telemetry_buffer_frames" in samples
    assert "ems_edge_telemetry_buffer_oldest_age_seconds" in samples
    assert samples['ems_edge_commands_total{reason="",status="delivered"}'] == 1
    assert samples['ems_edge_commands_total{reason="",status="executed"}'] == 1


async def test_two_edges_in_one_process_keep_their_own_metrics(tmp_path: Path) -> None:
    runtimes = [EdgeRuntime(load_edge_config(None), RealClock()) for _ in range(2)]
    first, second = (EdgeMetrics(r) for r in runtimes)
    runtimes[0].cycle.run_once(0)
    try:
        with (
            serve_metrics(first, "127.0.0.1", 0) as port_a,
            serve_metrics(second, "127.0.0.1", 0) as port_b,
        ):
            a, b = await scrape(port_a), await scrape(port_b)
    finally:
        first.close()
        second.close()
    assert (a["ems_edge_cycles_total"], b["ems_edge_cycles_total"]) == (1, 0)
    assert (
        a["ems_edge_cycle_duration_seconds_count"],
        b["ems_edge_cycle_duration_seconds_count"],
    ) == (1, 0)
    assert "ems_edge_link_connected" not in a  # standalone: no link metrics
