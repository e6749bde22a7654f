"""An edge held here: the guard and the in-flight entry in one Redis round trip.

The checks that need no Redis (static and dynamic limits, freshness) run
before it; what the command ends as must be the same as when each step asks
Redis on its own: the first failing check in DESIGN 4's order is the reason,
and nothing refused is ever in flight or sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from dispatch_fakes import EDGES, USER, Cloud, command_id

from ems.protocol import UiCommand
from ems.ratelimit import Rate

A = EDGES[0]


@pytest_asyncio.fixture
async def cloud() -> AsyncIterator[Cloud]:
    made = Cloud(command_rate=Rate(per_s=10, burst=3))
    yield made
    await made.aclose()


def _stamped(cmd: UiCommand, issued_at_s: float) -> UiCommand:
    return cmd.model_copy(update={"issued_at": datetime.fromtimestamp(issued_at_s, UTC)})


@pytest.mark.asyncio
async def test_a_command_goes_out_in_flight_without_the_two_step_write(cloud: Cloud) -> None:
    edge = await cloud.connect(A)
    cloud.telemetry(A)
    ack = await cloud.submit(cloud.command(command_id(1)))
    assert (ack.status, ack.detail) == ("received", f"sent to {A}")
    assert [s.frame.command_id for s in edge.received] == [command_id(1)]
    assert await cloud.inflight.contains(command_id(1))
    # The guarded script wrote the in-flight entry: the separate step never ran.
    assert [call for call, _ in cloud.latency.done if call.startswith("add")] == []
    await cloud.ack(A, command_id(1), "executed")
    assert cloud.statuses(command_id(1)) == [("received", None), ("executed", None)]


@pytest.mark.asyncio
async def test_a_rate_limited_command_is_neither_in_flight_nor_sent(cloud: Cloud) -> None:
    edge = await cloud.connect(A)
    cloud.telemetry(A)
    acks = [await cloud.submit(cloud.command(command_id(n))) for n in range(4)]
    assert [a.status for a in acks] == ["received"] * 3 + ["rejected"]
    assert acks[3].reason == "rate_limited"
    assert not await cloud.inflight.contains(command_id(3))
    assert command_id(3) not in [s.frame.command_id for s in edge.received]


@pytest.mark.asyncio
async def test_freshness_is_reported_before_the_static_and_dynamic_limits(cloud: Cloud) -> None:
    edge = await cloud.connect(A)
    cloud.telemetry(A, 100.0, 100.0)
    late = _stamped(cloud.command(command_id(1), value=10**9), cloud.clock.time() - 120.0)
    ack = await cloud.submit(late)
    assert (ack.status, ack.reason) == ("rejected", "stale_timestamp")
    over = await cloud.submit(cloud.command(command_id(2), value=4000.0))
    assert (over.status, over.reason) == ("rejected", "exceeds_dynamic_limit")
    assert edge.received == []
    for n in (1, 2):
        assert not await cloud.inflight.contains(command_id(n))
    # Both used a token (only a rate-limited command does not): one left of three.
    assert (await cloud.submit(cloud.command(command_id(3), value=50.0))).status == "received"
    assert (await cloud.submit(cloud.command(command_id(4), value=50.0))).reason == ("rate_limited")


@pytest.mark.asyncio
async def test_behind_waiting_commands_it_is_queued_not_sent_ahead(cloud: Cloud) -> None:
    cloud.telemetry(A)
    queued = await cloud.submit(cloud.command(command_id(1)))  # A is offline
    assert queued.status == "queued"
    edge = cloud.attach(A)  # connected, its queue not drained yet
    cloud.telemetry(A)
    ack = await cloud.dispatcher.submit(USER, "operator", cloud.command(command_id(2)))
    assert ack.status == "queued"
    assert not await cloud.inflight.contains(command_id(2))
    cloud.dispatcher.drain(A)
    await cloud.settle()
    assert [s.frame.command_id for s in edge.received] == [command_id(1), command_id(2)]
