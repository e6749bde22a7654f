"""BackgroundLoop: a service's loop is cancelled and awaited on stop, and stop is always safe."""

from __future__ import annotations

import asyncio

import pytest

from ems.cloud.background import BackgroundLoop

pytestmark = pytest.mark.asyncio


async def test_stop_cancels_the_loop_and_waits_for_its_cleanup() -> None:
    entered = asyncio.Event()
    cleaned_up: list[bool] = []

    async def run() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()  # forever, until cancelled
        finally:
            cleaned_up.append(True)

    loop = BackgroundLoop("test-loop", run)
    loop.start()
    await asyncio.wait_for(entered.wait(), 5)
    assert loop.running
    await loop.stop()
    assert cleaned_up == [True]  # stop returned only after the loop's finally ran
    assert not loop.running


async def test_stop_without_start_and_twice_is_harmless() -> None:
    async def run() -> None:
        return None

    loop = BackgroundLoop("never-started", run)
    await loop.stop()
    loop.start()
    await loop.stop()
    await loop.stop()


async def test_a_second_start_while_running_is_refused() -> None:
    async def run() -> None:
        await asyncio.Event().wait()

    loop = BackgroundLoop("test-loop", run)
    loop.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            loop.start()
    finally:
        await loop.stop()


async def test_a_finished_loop_can_be_started_again() -> None:
    runs: list[int] = []

    async def run() -> None:
        runs.append(1)

    loop = BackgroundLoop("short", run)
    loop.start()
    await loop.stop()
    loop.start()
    await loop.stop()
    assert len(runs) <= 2  # cancelled before it ran is allowed; never more than started
