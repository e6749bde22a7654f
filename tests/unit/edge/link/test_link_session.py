"""The link against a fake cloud over real sockets, with a live edge (0.05 s cycle)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from link_fakes import TIMEOUT_S, FakeCloud, running, until

from ems.clock import RealClock
from ems.edge.config import CycleConfig, load_edge_config
from ems.edge.link import Backoff, CloudLink
from ems.edge.runtime import EdgeRuntime
from ems.protocol import ErrorFrame

KEY = "k3y-Sup3r-S3cret-4401"


@pytest_asyncio.fixture
async def edge() -> AsyncIterator[EdgeRuntime]:
    """The demo site on the real clock, cycling every 50 ms, simulators running."""
    config = load_edge_config(None).model_copy(update={"cycle": CycleConfig(period_s=0.05)})
    runtime = EdgeRuntime(config, RealClock())
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    yield runtime
    stop.set()
    await asyncio.wait_for(task, TIMEOUT_S)


@pytest_asyncio.fixture
async def cloud() -> AsyncIterator[FakeCloud]:
    async with FakeCloud() as fake:
        yield fake


def make_link(edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path, **kw: object) -> CloudLink:
    kw.setdefault("backoff", Backoff.immediate())
    kw.setdefault("refresh_profiles", False)
    return CloudLink(edge, cloud.url, KEY, tmp_path, **kw)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_auth_is_the_first_frame_then_inventory(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path
) -> None:
    link = make_link(edge, cloud, tmp_path)
    async with running(link):
        before = datetime.now(UTC)
        auth = await asyncio.wait_for(cloud.auths.get(), TIMEOUT_S)
        inventory = await cloud.next("inventory")
        await until(lambda: link.connected, "connected")
    assert auth.edge_id == "site-1"
    assert auth.api_key == KEY
    assert abs((auth.edge_time - before).total_seconds()) < 2.0
    assert [(d.id, d.profile) for d in inventory.devices] == [
        ("battery_1", "battery"),
        ("pv_1", "pv_inverter"),
        ("grid", "grid_meter"),
        ("load", "load_meter"),
    ]
    assert not cloud.invalid
    assert not link.connected  # stopped
    assert await asyncio.wait_for(cloud.close_codes.get(), TIMEOUT_S) == 1000


@pytest.mark.asyncio
async def test_command_is_delivered_then_executed(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path
) -> None:
    link = make_link(edge, cloud, tmp_path)
    async with running(link):
        command = cloud.command(value=-1000.0)
        await cloud.send(command)
        delivered = await cloud.next("ack")
        executed = await cloud.next("ack")
        assert (delivered.command_id, delivered.status) == (command.command_id, "delivered")
        assert (executed.command_id, executed.status, executed.reason) == (
            command.command_id,
            "executed",
            None,
        )
        sample = edge.store.get_channel("battery_1/SetActivePower")
        assert sample is not None
        assert sample.value == -1000.0
        assert link.commands_received == 1
        await until(lambda: link.acks_sent == 2, "two acks sent")
    assert not cloud.invalid


@pytest.mark.asyncio
async def test_unknown_device_is_rejected(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path
) -> None:
    link = make_link(edge, cloud, tmp_path)
    async with running(link):
        command = cloud.command(device="battery_9")
        await cloud.send(command)
        ack = await cloud.next("ack")
    assert (ack.command_id, ack.status, ack.reason) == (
        command.command_id,
        "rejected",
        "unknown_device",
    )
    assert "battery_9" in ack.detail


@pytest.mark.asyncio
async def test_command_past_its_deadline_fails_expired_and_is_not_applied(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path
) -> None:
    link = make_link(edge, cloud, tmp_path)
    async with running(link):
        command = cloud.command(value=-1234.0, deadline_in_s=-1.0)
        await cloud.send(command)
        ack = await cloud.next("ack")
        # The next telemetry frame comes from a cycle after the refusal.
        await cloud.next("telemetry")
        frame = await cloud.next("telemetry")
    assert (ack.status, ack.reason) == ("failed", "expired")
    assert frame.channels["battery_1/SetActivePower"].v != -1234.0


@pytest.mark.asyncio
async def test_telemetry_every_cycle_with_increasing_seq(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path
) -> None:
    link = make_link(edge, cloud, tmp_path)
    async with running(link):
        # Live frames only: cycles run while the link connects are buffered and sent as
        # backfill, paced, so on a slow machine they can arrive between live ones.
        frames = [await cloud.next("telemetry", lambda f: not f.backfill) for _ in range(5)]
        await until(lambda: (link.telemetry_acked_seq or -1) >= frames[-1].seq, "telemetry acks")
    seqs = [f.seq for f in frames]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 5
    soc = frames[-1].channels["battery_1/Soc"]
    assert 0 <= soc.v <= 100
    assert "battery_1/SetActivePower" in frames[-1].channels  # outputs travel too
    assert not any(a.startswith(("ui_requests/", "ack/")) for a in frames[-1].channels)
    assert link.telemetry_sent >= 5
    assert link.frames_dropped == 0


@pytest.mark.asyncio
async def test_error_frames_and_garbage_do_not_break_the_link(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    link = make_link(edge, cloud, tmp_path)
    bad_id = "0b3f0a4e-52c4-4c1e-9a55-7a4a4f0a9c11"
    with caplog.at_level(logging.WARNING, logger="ems.edge.link"):
        async with running(link):
            await cloud.send(ErrorFrame(code="rate_limited", detail="slow down"))
            await cloud.send("this is not JSON")
            await cloud.send('{"type":"surprise"}')
            # A command the edge can name but not read: rejected at once.
            await cloud.send(f'{{"type":"command","command_id":"{bad_id}","device":"battery_1"}}')
            refused = await cloud.next("ack")
            command = cloud.command()
            await cloud.send(command)
            delivered = await cloud.ack_for(command.command_id, "delivered")
            assert link.connected
            assert cloud.sessions == 1
    assert (refused.command_id, refused.status, refused.reason) == (
        bad_id,
        "rejected",
        "invalid_payload",
    )
    assert delivered.status == "delivered"
    assert link.errors_received == 1
    text = caplog.text
    assert "rate_limited" in text
    assert "malformed_json" in text
    assert "unknown_type" in text


@pytest.mark.asyncio
async def test_refused_key_is_retried_and_never_logged(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cloud.refuse_auth = True
    link = make_link(edge, cloud, tmp_path, backoff=Backoff(base_s=0.01, cap_s=0.02))
    with caplog.at_level(logging.DEBUG):
        async with running(link):
            for _ in range(3):
                await asyncio.wait_for(cloud.auths.get(), TIMEOUT_S)
            await until(lambda: link.auth_refusals >= 3, "three refusals")
            assert cloud.sessions == 0
            # An operator fixes the key on the cloud side: the link gets in.
            cloud.refuse_auth = False
            await cloud.next("inventory")
            assert link.connected
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors
    assert "4401" in errors[0].getMessage()
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in str(record.__dict__)
    assert KEY not in caplog.text


@pytest.mark.asyncio
async def test_clock_offset_measured_and_drift_warned(
    edge: EdgeRuntime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeCloud(server_offset_s=10.0) as cloud:
        link = make_link(edge, cloud, tmp_path)
        with caplog.at_level(logging.WARNING, logger="ems.edge.link"):
            async with running(link):
                await cloud.next("inventory")
    assert link.last_clock_offset_s is not None
    assert link.last_clock_offset_s == pytest.approx(10.0, abs=0.5)
    assert any("NTP" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


@pytest.mark.asyncio
async def test_small_offset_is_not_warned(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    link = make_link(edge, cloud, tmp_path)
    with caplog.at_level(logging.WARNING, logger="ems.edge.link"):
        async with running(link):
            await cloud.next("inventory")
    assert link.last_clock_offset_s == pytest.approx(0.0, abs=0.5)
    assert not any("NTP" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_reconnects_after_the_cloud_drops_the_connection(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path
) -> None:
    link = make_link(edge, cloud, tmp_path)
    async with running(link):
        await cloud.next("inventory")
        await cloud.drop()
        await cloud.next("inventory")  # sent again on the new connection
        await until(lambda: link.connected, "connected again")
        command = cloud.command()
        await cloud.send(command)
        await cloud.ack_for(command.command_id, "executed")
    assert cloud.sessions == 2
    assert link.reconnects >= 1


@pytest.mark.asyncio
async def test_unreachable_cloud_never_raises_and_stops_promptly(
    edge: EdgeRuntime, tmp_path: Path
) -> None:
    async with FakeCloud() as cloud:
        url = cloud.url  # a port that nobody listens on once the fake is gone
    link = CloudLink(
        edge, url, KEY, tmp_path, backoff=Backoff(base_s=0.01, cap_s=0.02), refresh_profiles=False
    )
    async with running(link):
        await until(lambda: link.reconnects >= 3, "three attempts")
        await until(lambda: link.frames_queued > 0, "frames kept for later")
        assert not link.connected


@pytest.mark.asyncio
async def test_profile_cache_is_refreshed_after_connecting(
    edge: EdgeRuntime, tmp_path: Path
) -> None:
    async with FakeCloud(serve_profiles=True) as cloud:
        link = make_link(edge, cloud, tmp_path, refresh_profiles=True)
        async with running(link):
            await cloud.next("inventory")
            cached = tmp_path / "profiles" / "battery.json"
            await until(cached.exists, "cached profile")
    assert sorted(p.name for p in (tmp_path / "profiles").iterdir()) == [
        "battery.json",
        "grid_meter.json",
        "load_meter.json",
        "pv_inverter.json",
    ]


@pytest.mark.asyncio
async def test_replaced_connection_is_reported_as_a_duplicate_edge(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    link = make_link(edge, cloud, tmp_path)
    with caplog.at_level(logging.ERROR, logger="ems.edge.link"):
        async with running(link):
            await cloud.next("inventory")
            await cloud.drop(code=4409)
            await cloud.next("inventory")  # and it keeps trying
    assert any("second edge" in r.getMessage() for r in caplog.records)
