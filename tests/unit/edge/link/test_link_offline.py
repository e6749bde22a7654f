"""The link while the cloud is away, on a virtual clock with cycles run by hand.

Running each cycle explicitly makes "what happened while disconnected" exact:
the tests decide which acks and frames exist before the link gets back in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import partial
from pathlib import Path

import pytest
import pytest_asyncio
from link_fakes import FakeCloud, running, until

from ems.clock import VirtualClock
from ems.dal import Sample
from ems.edge.config import load_edge_config
from ems.edge.link import Backoff, CloudLink
from ems.edge.requests import CommandRequest
from ems.edge.runtime import EdgeRuntime
from ems.timefmt import to_rfc3339

KEY = "offline-test-key"
QUICK = Backoff(base_s=0.01, cap_s=0.02)


@pytest.fixture
def edge() -> EdgeRuntime:
    runtime = EdgeRuntime(load_edge_config(None), VirtualClock())
    runtime.host.tick_all()  # devices report once, so limits are fresh for revalidation
    return runtime


@pytest_asyncio.fixture
async def cloud(edge: EdgeRuntime) -> AsyncIterator[FakeCloud]:
    async with FakeCloud(clock=edge.clock) as fake:
        yield fake


def make_link(edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path, **kw: object) -> CloudLink:
    kw.setdefault("backoff", QUICK)
    kw.setdefault("refresh_profiles", False)
    return CloudLink(edge, cloud.url, KEY, tmp_path, **kw)  # type: ignore[arg-type]


async def _run_cycles(edge: EdgeRuntime, link: CloudLink, first: int, count: int) -> None:
    """``count`` cycles one virtual second apart, each captured by the link before the next."""
    for k in range(first, first + count):
        edge.clock.advance(1.0)  # type: ignore[attr-defined]
        edge.cycle.run_once(k)
        await until(partial(captured_at_least, link, k + 1), f"capture of cycle {k}")


@pytest.mark.asyncio
async def test_a_ten_minute_outage_leaves_no_gap(edge: EdgeRuntime, tmp_path: Path) -> None:
    """600 cycles at 1 s while the cloud refuses the edge, then backfill while cycles go on."""
    clock = edge.clock
    assert isinstance(clock, VirtualClock)
    async with FakeCloud(clock=clock) as cloud:
        cloud.refuse_auth = True
        link = make_link(edge, cloud, tmp_path)
        async with running(link):
            await until(lambda: link.auth_refusals >= 1, "the link to be running")
            await _run_cycles(edge, link, 0, 600)
            assert link.frames_queued == 600
            assert link.telemetry_sent == 0
            cloud.refuse_auth = False
            await until(lambda: link.connected, "reconnected")
            frames = []
            k = 600
            # One cycle per virtual second during the backfill: live frames keep flowing.
            while link.uplink.frames_acked < k:
                await _run_cycles(edge, link, k, 1)
                k += 1
                while not cloud.frames["telemetry"].empty():
                    frames.append(cloud.frames["telemetry"].get_nowait())
                assert k < 700, "backfill did not finish in 100 virtual seconds"
            assert link.uplink.frames_acked == k  # each once
            await link.uplink.flush()
            assert link.frames_queued == 0
            while not cloud.frames["telemetry"].empty():
                frames.append(cloud.frames["telemetry"].get_nowait())
    indexes = [f.channels["_cycle/Index"].v for f in frames]
    assert sorted(indexes) == list(range(k))  # every cycle's frame exactly once
    backfill = [f.channels["_cycle/Index"].v for f in frames if f.backfill]
    live = [f.channels["_cycle/Index"].v for f in frames if not f.backfill]
    assert backfill == sorted(backfill)  # oldest first
    assert set(range(599)) <= set(backfill)  # the newest capture (599) went out live
    assert live == sorted(live)
    # Live frames were not held back until the backlog was through.
    first_live_after = next(i for i, f in enumerate(frames) if not f.backfill)
    assert first_live_after < len(frames) - len(live) - 300
    assert link.frames_dropped == 0
    assert not cloud.invalid


@pytest.mark.asyncio
async def test_cycles_the_link_fell_behind_on_are_sent_once(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path
) -> None:
    cloud.refuse_auth = True
    link = make_link(edge, cloud, tmp_path)
    async with running(link):
        await until(lambda: link.auth_refusals >= 1, "the link to be running")
        for k in range(5):  # no yield: every capture runs after the last cycle
            edge.cycle.run_once(k)
        edge.cycle.run_once(5)
        await until(lambda: captured(link) >= 1, "a capture")
        cloud.refuse_auth = False
        frame = await cloud.next("telemetry")
        await until(lambda: link.connected, "connected")
    assert frame.channels["_cycle/Index"].v == 5
    assert captured(link) == 1  # one state, one frame
    assert link.frames_dropped == 0


def captured(link: CloudLink) -> int:
    """Frames the link has taken from the cycle so far."""
    return link.uplink.frames_captured


def captured_at_least(link: CloudLink, n: int) -> bool:
    return captured(link) >= n


@pytest.mark.asyncio
async def test_acks_made_while_disconnected_are_sent_after_reconnect_in_order(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path
) -> None:
    written: list[str] = []

    def record(_address: str, sample: Sample) -> None:
        assert isinstance(sample.value, Mapping)
        written.append(str(sample.value["command_id"]))

    edge.store.watch("ack/", record)
    link = make_link(edge, cloud, tmp_path)
    async with running(link):
        power = cloud.command(value=-500.0)
        mode = cloud.command(action="set_mode", value="manual")
        for command in (mode, power):
            await cloud.send(command)
            await cloud.ack_for(command.command_id, "delivered")
        cloud.refuse_auth = True  # the cloud comes back, but refuses the edge for a while
        await cloud.drop()
        await until(lambda: link.auth_refusals >= 1, "a refused reconnect")
        edge.cycle.run_once(0)  # nothing to execute: losing the link withdrew both
        await until(lambda: link.acks_pending == 2, "two acks waiting")
        refusals = link.auth_refusals
        await until(lambda: link.auth_refusals >= refusals + 2, "more refused attempts")
        assert link.acks_pending == 2  # kept across failed attempts
        assert not link.connected

        cloud.refuse_auth = False
        first = await cloud.next("ack")
        second = await cloud.next("ack")
    # A command applied while the link is down could not report back before the
    # cloud's watchdog failed it: both were withdrawn when the link was lost.
    assert [(first.status, first.reason), (second.status, second.reason)] == [
        ("failed", "link_lost"),
        ("failed", "link_lost"),
    ]
    assert [first.command_id, second.command_id] == written
    assert sorted(written) == sorted([power.command_id, mode.command_id])
    sample = edge.store.get_channel("battery_1/SetActivePower")
    assert sample is not None
    assert sample.value != -500.0


@pytest.mark.asyncio
async def test_a_command_sent_twice_is_executed_once(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path
) -> None:
    link = make_link(edge, cloud, tmp_path)
    async with running(link):
        command = cloud.command(value=-700.0)
        await cloud.send(command)
        await cloud.ack_for(command.command_id, "delivered")
        edge.cycle.run_once(0)
        await cloud.ack_for(command.command_id, "executed")
        newer = cloud.command(value=-300.0)
        await cloud.send(newer)
        await cloud.ack_for(newer.command_id, "delivered")
        edge.cycle.run_once(1)
        await cloud.ack_for(newer.command_id, "executed")

        await cloud.send(command)  # redelivered, e.g. after a reconnect
        again = await cloud.next("ack")
        edge.cycle.run_once(2)
    assert (again.command_id, again.status) == (command.command_id, "executed")
    request = edge.store.get_channel("ui_requests/battery_1_power")
    assert request is not None
    assert request.value is None  # not written a second time
    sample = edge.store.get_channel("battery_1/SetActivePower")
    assert sample is not None
    assert sample.value == -300.0  # the newer setpoint holds
    assert link.commands_received == 3


@pytest.mark.asyncio
async def test_acks_of_local_commands_are_not_forwarded(
    edge: EdgeRuntime, cloud: FakeCloud, tmp_path: Path
) -> None:
    link = make_link(edge, cloud, tmp_path)
    async with running(link):
        await cloud.next("inventory")
        now = edge.clock.time()
        verdict = edge.requests.submit(
            CommandRequest("cli-1", "battery_1", "set_active_power", -100.0, to_rfc3339(now))
        )
        assert verdict.status == "delivered"
        edge.cycle.run_once(0)  # acks cli-1 (not a wire command id)
        command = cloud.command(value=-200.0)
        await cloud.send(command)
        first = await cloud.next("ack")
    assert first.command_id == command.command_id
    assert not cloud.invalid
