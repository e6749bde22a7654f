"""The command guard in the dispatcher: the order of the checks and what each refusal leaves.

DESIGN section 4: schema -> role -> rate limit -> replay/freshness -> static ->
dynamic. A refused role uses no token; ``rate_limited`` and ``replay`` are not
tracked as commands (nothing recorded, the id of a rate-limited command stays
free); ``stale_timestamp`` is a tracked rejection and uses the id up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from dispatch_fakes import EDGES, SET_MODE, Cloud, command_id

from ems.protocol import UiCommand
from ems.ratelimit import Rate

A = EDGES[0]


@pytest_asyncio.fixture
async def cloud() -> AsyncIterator[Cloud]:
    made = Cloud(command_rate=Rate(per_s=10, burst=10))
    yield made
    await made.aclose()


def _mode(cloud: Cloud, n: int, issued_at_s: float | None = None) -> UiCommand:
    cmd = cloud.command(command_id(n), A, "manual", action=SET_MODE)
    if issued_at_s is not None:
        cmd = cmd.model_copy(update={"issued_at": datetime.fromtimestamp(issued_at_s, UTC)})
    return cmd


@pytest.mark.asyncio
async def test_eleventh_command_is_rate_limited_and_its_id_stays_free(cloud: Cloud) -> None:
    edge = await cloud.connect(A)
    acks = [await cloud.submit(_mode(cloud, n)) for n in range(11)]
    assert [a.status for a in acks[:10]] == ["received"] * 10
    assert (acks[10].status, acks[10].reason) == ("rejected", "rate_limited")
    assert acks[10].detail is not None and "retry in 0.100 s" in acks[10].detail
    assert command_id(10) not in cloud.dispatcher.commands  # not tracked
    assert command_id(10) not in [t.command_id for t, _ in cloud.heard]  # nor recorded
    assert command_id(10) not in [s.frame.command_id for s in edge.received]
    await cloud.advance(0.1)
    again = await cloud.submit(_mode(cloud, 10, issued_at_s=acks[10].at.timestamp()))
    assert again.status == "received"  # the same id, once the bucket allows


@pytest.mark.asyncio
async def test_a_refused_role_uses_no_token(cloud: Cloud) -> None:
    await cloud.connect(A)
    for n in range(20):
        ack = await cloud.submit(_mode(cloud, n), role="viewer")
        assert ack.reason == "forbidden"
    acks = [await cloud.submit(_mode(cloud, 100 + n)) for n in range(10)]
    assert {a.status for a in acks} == {"received"}


@pytest.mark.asyncio
async def test_replay_is_refused_and_not_sent_twice(cloud: Cloud) -> None:
    edge = await cloud.connect(A)
    first = await cloud.submit(_mode(cloud, 1))
    assert first.status == "received"
    # Even after this process forgot the command (another process, or a restart):
    cloud.dispatcher.commands.clear()
    replay = await cloud.submit(_mode(cloud, 1))
    assert (replay.status, replay.reason) == ("rejected", "replay")
    assert [s.frame.command_id for s in edge.received].count(command_id(1)) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("skew_s", [-60.5, 60.5])
async def test_stale_issued_at_is_tracked_and_uses_the_id(cloud: Cloud, skew_s: float) -> None:
    edge = await cloud.connect(A)
    stale = await cloud.submit(_mode(cloud, 1, issued_at_s=cloud.clock.time() + skew_s))
    assert (stale.status, stale.reason) == ("rejected", "stale_timestamp")
    assert [(t.command_id, a.reason) for t, a in cloud.heard] == [
        (command_id(1), "stale_timestamp")
    ]
    again = await cloud.submit(_mode(cloud, 1))
    assert again.reason == "replay"
    assert edge.received == []
    fresh = await cloud.submit(_mode(cloud, 2, issued_at_s=cloud.clock.time() - 59.5))
    assert fresh.status == "received"
