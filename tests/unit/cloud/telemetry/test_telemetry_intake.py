"""The intake bound: first come, first served; nothing leaks when a waiter goes away."""

from __future__ import annotations

import asyncio

import pytest

from ems.cloud.telemetry.intake import IntakeGate

pytestmark = pytest.mark.asyncio


async def test_room_is_admitted_at_once_and_a_full_gate_makes_readers_wait() -> None:
    gate = IntakeGate(100)
    await gate.admit(60)
    assert gate.held_rows == 60 and gate.waiting == 0
    second = asyncio.create_task(gate.admit(60))
    await asyncio.sleep(0)  # let it queue
    assert not second.done() and gate.waiting == 1 and gate.stats.pauses == 1
    gate.release(60)
    await asyncio.wait_for(second, 1)
    assert gate.held_rows == 60 and gate.waiting == 0


async def test_waiters_are_served_in_order_even_when_a_later_one_would_fit() -> None:
    gate = IntakeGate(100)
    assert gate.try_admit(90)
    big = asyncio.create_task(gate.admit(50))
    await asyncio.sleep(0)
    assert not gate.try_admit(5)  # room for 5, but the 50 waits first
    small = asyncio.create_task(gate.admit(5))
    await asyncio.sleep(0)
    gate.release(40)  # 50 held: the 50 fits (100), the 5 no longer does
    await asyncio.wait_for(big, 1)
    assert not small.done() and gate.held_rows == 100
    gate.release(50)
    await asyncio.wait_for(small, 1)
    assert gate.held_rows == 55


async def test_a_frame_larger_than_the_bound_passes_alone() -> None:
    gate = IntakeGate(10)
    await asyncio.wait_for(gate.admit(50), 1)
    assert gate.held_rows == 50
    late = asyncio.create_task(gate.admit(1))
    await asyncio.sleep(0)
    assert not late.done()
    gate.release(50)
    await asyncio.wait_for(late, 1)


async def test_a_cancelled_waiter_leaves_no_rows_held_and_unblocks_those_behind() -> None:
    gate = IntakeGate(10)
    gate.try_admit(8)
    big = asyncio.create_task(gate.admit(10))
    await asyncio.sleep(0)
    small = asyncio.create_task(gate.admit(2))
    await asyncio.sleep(0)
    assert not small.done()  # behind the big one
    big.cancel()
    await asyncio.wait_for(small, 1)  # the way is free: 8 + 2 fit
    assert gate.held_rows == 10 and gate.waiting == 0
    with pytest.raises(asyncio.CancelledError):
        await big


async def test_bad_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_rows"):
        IntakeGate(0)
