"""The link's clock measurement and its audit records, against a fake cloud over real sockets.

The cloud's clock is skewed by ``server_offset_s``; the edge measures it at
connect and with ``clock_ping`` frames, shows it as ``_link/ClockOffsetMs``,
converts deadlines with it, and forwards its audit records in ``audit`` frames.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from link_fakes import TIMEOUT_S, FakeCloud, running, until

from ems.audit import AuditEvent
from ems.clock import RealClock
from ems.edge.config import CycleConfig, load_edge_config
from ems.edge.link import Backoff, CloudLink
from ems.edge.link.audit_outbox import AuditOutbox
from ems.edge.runtime import EdgeRuntime
from ems.protocol import MAX_AUDIT_RECORDS, AuditRecord, CloudToEdgeCommand

KEY = "k3y-clock-audit-0000"


@pytest_asyncio.fixture
async def edge() -> AsyncIterator[EdgeRuntime]:
    config = load_edge_config(None).model_copy(update={"cycle": CycleConfig(period_s=0.05)})
    runtime = EdgeRuntime(config, RealClock())
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    yield runtime
    stop.set()
    await asyncio.wait_for(task, TIMEOUT_S)


def make_link(edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path, **kw: object) -> CloudLink:
    kw.setdefault("backoff", Backoff.immediate())
    kw.setdefault("refresh_profiles", False)
    return CloudLink(edge, cloud.url, KEY, tmp_path, **kw)  # type: ignore[arg-type]


def command_due_in_cloud_time(cloud: FakeCloud, in_s: float) -> CloudToEdgeCommand:
    """A command whose deadline is ``in_s`` after the (skewed) cloud's now."""
    cloud_now = datetime.fromtimestamp(cloud.clock.time() + cloud.server_offset_s, UTC)
    return CloudToEdgeCommand(
        command_id=str(uuid.uuid4()),
        device="battery_1",
        action="set_active_power",
        value=-1000.0,
        issued_at=cloud_now,
        deadline=cloud_now + timedelta(seconds=in_s),
        user="alice",
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("cloud_ahead_s", [20.0, -20.0])
async def test_a_skewed_edge_judges_deadlines_in_cloud_time(
    edge: EdgeRuntime, tmp_path: Path, cloud_ahead_s: float
) -> None:
    async with FakeCloud(server_offset_s=cloud_ahead_s) as cloud:
        link = make_link(edge, cloud, tmp_path)
        async with running(link):
            await cloud.next("inventory")
            offset = edge.store.get_channel("_link/ClockOffsetMs")
            assert offset is not None
            assert offset.value == pytest.approx(cloud_ahead_s * 1000.0, abs=500.0)
            # Passed 1 s ago in cloud time: refused, whatever the edge's clock says.
            late = command_due_in_cloud_time(cloud, -1.0)
            await cloud.send(late)
            refused = await cloud.ack_for(late.command_id, "failed")
            # 5 s left in cloud time: taken and executed.
            timely = command_due_in_cloud_time(cloud, 5.0)
            await cloud.send(timely)
            await cloud.ack_for(timely.command_id, "delivered")
            await cloud.ack_for(timely.command_id, "executed")
    assert refused.reason == "expired"
    assert not cloud.invalid


@pytest.mark.asyncio
async def test_the_offset_is_measured_again_and_warned_about_once(
    edge: EdgeRuntime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeCloud(server_offset_s=3.0) as cloud:
        link = make_link(edge, cloud, tmp_path, clock_check_s=0.02)
        with caplog.at_level(logging.INFO, logger="ems.edge.link"):
            async with running(link):
                await cloud.next("clock_ping")
                await cloud.next("clock_ping")  # the first one was answered meanwhile
                cloud.server_offset_s = -2.0  # the edge's clock was stepped (NTP)
                await until(
                    lambda: (
                        link.last_clock_offset_s is not None
                        and abs(link.last_clock_offset_s + 2.0) < 0.5
                    ),
                    "the new offset measured",
                )
                await cloud.next("clock_ping")
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "NTP" in r.getMessage()
    ]
    assert len(warnings) == 1, "rate-limited: once, though every ping measured a large offset"
    assert edge.clock_sync.offset_s == pytest.approx(-2.0, abs=0.5)
    assert edge.clock_sync.uncertainty_s < 0.5
    assert not cloud.invalid


@pytest.mark.asyncio
async def test_the_edges_waypoints_reach_the_cloud_in_audit_frames(
    edge: EdgeRuntime, tmp_path: Path
) -> None:
    async with FakeCloud() as cloud:
        link = make_link(edge, cloud, tmp_path)
        async with running(link):
            command = cloud.command(value=-900.0)
            await cloud.send(command)
            await cloud.ack_for(command.command_id, "executed")
            records: list[AuditRecord] = []
            while not any(r.event == "controller.executed" for r in records):
                frame = await cloud.next("audit")
                records += [r for r in frame.records if r.command_id == command.command_id]
            await until(lambda: link.audit_records_pending == 0, "audit records sent")
    assert [r.event for r in records] == [
        "edge.received",
        "edge.request_written",
        "controller.executed",
    ]
    assert [r.status for r in records][1:] == ["delivered", "executed"]
    assert len({r.id for r in records}) == 3
    assert [r.seq for r in records] == sorted(r.seq for r in records)
    assert not cloud.invalid


def _event(command_id: str, event: str = "edge.received", at: float = 1.0) -> AuditEvent:
    return AuditEvent(event, command_id, "alice", "site-1", None, None, None, at)


def test_the_outbox_keeps_records_until_the_socket_takes_them() -> None:
    woken: list[int] = []
    outbox = AuditOutbox(lambda: woken.append(1), max_records=1000)
    ids = [str(uuid.uuid4()) for _ in range(MAX_AUDIT_RECORDS + 5)]
    for cid in ids:
        outbox.on_event(_event(cid))
    outbox.on_event(_event("cmd-1"))  # a local script's command: not the cloud's
    outbox.on_event(_event(ids[0], "edge.ack_sent"))  # the cloud has the ack itself
    assert len(outbox) == len(ids) == len(woken)
    first = outbox.peek()
    assert first is not None and len(first.records) == MAX_AUDIT_RECORDS
    assert outbox.peek() == first  # nothing taken before the socket took it (a reconnect)
    outbox.sent(first)
    rest = outbox.peek()
    assert rest is not None and [r.command_id for r in rest.records] == ids[MAX_AUDIT_RECORDS:]
    outbox.sent(rest)
    assert outbox.peek() is None


def test_a_full_outbox_drops_its_oldest_records() -> None:
    outbox = AuditOutbox(lambda: None, max_records=3)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for cid in ids:
        outbox.on_event(_event(cid))
    frame = outbox.peek()
    assert frame is not None and [r.command_id for r in frame.records] == ids[2:]
    assert outbox.dropped == 2
