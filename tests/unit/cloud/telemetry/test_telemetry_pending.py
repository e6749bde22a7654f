"""An edge's pending frames: first in, first out, bounded, one waiter per side."""

from __future__ import annotations

import asyncio

import pytest

from ems.cloud.telemetry.pending import PendingFrames

pytestmark = pytest.mark.asyncio

TIMEOUT_S = 5.0


async def test_items_come_out_in_order() -> None:
    frames: PendingFrames[int] = PendingFrames(3)
    for n in (1, 2, 3):
        await frames.put(n)
    assert len(frames) == 3
    assert [await frames.get(), frames.get_nowait(), frames.get_nowait()] == [1, 2, 3]
    assert frames.empty()
    with pytest.raises(IndexError):
        frames.get_nowait()


async def test_put_waits_while_full_until_an_item_is_taken() -> None:
    frames: PendingFrames[int] = PendingFrames(1)
    await frames.put(1)
    put = asyncio.create_task(frames.put(2))
    await asyncio.sleep(0)  # let it reach its wait: a scheduling step, not a delay
    assert not put.done() and len(frames) == 1
    assert frames.get_nowait() == 1
    await asyncio.wait_for(put, TIMEOUT_S)
    assert frames.get_nowait() == 2


async def test_get_waits_for_an_item() -> None:
    frames: PendingFrames[str] = PendingFrames(2)
    get = asyncio.create_task(frames.get())
    await asyncio.sleep(0)
    assert not get.done()
    await frames.put("a")
    assert await asyncio.wait_for(get, TIMEOUT_S) == "a"


async def test_a_cancelled_getter_leaves_the_queue_usable() -> None:
    frames: PendingFrames[int] = PendingFrames(2)
    get = asyncio.create_task(frames.get())
    await asyncio.sleep(0)
    get.cancel()
    with pytest.raises(asyncio.CancelledError):
        await get
    await frames.put(5)
    assert await asyncio.wait_for(frames.get(), TIMEOUT_S) == 5


async def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        PendingFrames(0)
