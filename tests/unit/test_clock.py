"""Clocks: the virtual clock moves only when told to and wakes its waiters on time.

Threads are observed through Events with timeouts; coroutines through the
virtual clock itself. Nothing here sleeps to let something else happen.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ems.clock import DEFAULT_VIRTUAL_EPOCH_S, RealClock, VirtualClock

EVENT_TIMEOUT_S = 5.0
#: How long a negative check waits for something that must not happen.
MUST_NOT_HAPPEN_S = 0.2


class WaitingThread:
    """Runs ``clock.wait_until(deadline, stop)`` in a thread and records the result."""

    def __init__(self, clock: VirtualClock | RealClock, deadline_s: float) -> None:
        self.stop = threading.Event()
        self.started = threading.Event()
        self.returned = threading.Event()
        self.result: bool | None = None
        self.seen_monotonic: float | None = None
        self._clock = clock
        self._deadline_s = deadline_s
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.started.wait(EVENT_TIMEOUT_S)

    def _run(self) -> None:
        self.started.set()
        self.result = self._clock.wait_until(self._deadline_s, self.stop)
        self.seen_monotonic = self._clock.monotonic()
        self.returned.set()

    def join(self) -> None:
        self._thread.join(EVENT_TIMEOUT_S)
        assert not self._thread.is_alive()


# ------------------------------------------------------------------- virtual


def test_virtual_clock_starts_at_its_epoch() -> None:
    assert VirtualClock().time() == DEFAULT_VIRTUAL_EPOCH_S
    clock = VirtualClock(start_s=1000.0)
    assert clock.time() == 1000.0
    assert clock.monotonic() == 0.0


def test_virtual_clock_stands_still_until_advanced() -> None:
    clock = VirtualClock(start_s=1000.0)
    assert clock.time() == clock.time() == 1000.0
    clock.advance(1.5)
    assert clock.monotonic() == 1.5
    assert clock.time() == 1001.5
    clock.advance(0)
    assert clock.monotonic() == 1.5
    clock.advance(86_400)
    assert clock.monotonic() == 86_401.5
    assert clock.time() == 1000.0 + 86_401.5


def test_negative_advance_raises_and_leaves_time_alone() -> None:
    clock = VirtualClock(start_s=1000.0)
    clock.advance(2.0)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-0.001)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(float("nan"))
    assert clock.monotonic() == 2.0
    assert clock.time() == 1002.0


@pytest.mark.asyncio
async def test_negative_advance_async_raises() -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError, match="only moves forward"):
        await clock.advance_async(-1.0)
    assert clock.monotonic() == 0.0


def test_set_time_steps_wall_time_but_not_monotonic() -> None:
    clock = VirtualClock(start_s=1000.0)
    clock.advance(10.0)
    clock.set_time(5000.0)
    assert clock.time() == 5000.0
    assert clock.monotonic() == 10.0
    clock.set_time(500.0)  # a backward step is allowed for wall time
    assert clock.time() == 500.0
    assert clock.monotonic() == 10.0
    clock.advance(1.0)
    assert clock.time() == 501.0
    assert clock.monotonic() == 11.0


def test_set_time_does_not_wake_a_monotonic_waiter() -> None:
    clock = VirtualClock(start_s=1000.0)
    waiter = WaitingThread(clock, deadline_s=5.0)
    clock.set_time(1_000_000.0)
    assert not waiter.returned.wait(MUST_NOT_HAPPEN_S)
    clock.advance(5.0)
    assert waiter.returned.wait(EVENT_TIMEOUT_S)
    assert waiter.result is True
    waiter.join()


def test_advance_wakes_a_thread_only_when_its_deadline_comes() -> None:
    clock = VirtualClock()
    waiter = WaitingThread(clock, deadline_s=5.0)
    clock.advance(4.999)
    assert not waiter.returned.wait(MUST_NOT_HAPPEN_S)
    clock.advance(0.001)
    assert waiter.returned.wait(EVENT_TIMEOUT_S)
    assert waiter.result is True
    assert waiter.seen_monotonic is not None
    assert waiter.seen_monotonic >= 5.0
    waiter.join()


def test_advance_wakes_every_due_thread() -> None:
    clock = VirtualClock()
    waiters = [WaitingThread(clock, deadline_s=d) for d in (1.0, 2.0, 3.0, 10.0)]
    clock.advance(3.0)
    for w in waiters[:3]:
        assert w.returned.wait(EVENT_TIMEOUT_S)
        assert w.result is True
    assert not waiters[3].returned.wait(MUST_NOT_HAPPEN_S)
    waiters[3].stop.set()
    assert waiters[3].returned.wait(EVENT_TIMEOUT_S)
    assert waiters[3].result is False
    for w in waiters:
        w.join()


def test_wait_until_returns_false_when_stopped() -> None:
    clock = VirtualClock()
    waiter = WaitingThread(clock, deadline_s=100.0)
    waiter.stop.set()
    assert waiter.returned.wait(EVENT_TIMEOUT_S)
    assert waiter.result is False
    assert clock.monotonic() == 0.0
    waiter.join()


def test_wait_until_past_deadline_or_already_stopped_returns_at_once() -> None:
    clock = VirtualClock()
    clock.advance(10.0)
    stop = threading.Event()
    assert clock.wait_until(10.0, stop) is True
    assert clock.wait_until(3.0, stop) is True
    stop.set()
    assert clock.wait_until(3.0, stop) is False
    assert clock.wait_until(1_000.0, stop) is False


@pytest.mark.asyncio
async def test_sleep_until_a_past_deadline_returns_without_advancing() -> None:
    clock = VirtualClock()
    clock.advance(5.0)
    await asyncio.wait_for(clock.sleep_until(5.0), EVENT_TIMEOUT_S)
    await asyncio.wait_for(clock.sleep_until(1.0), EVENT_TIMEOUT_S)
    assert clock.monotonic() == 5.0


@pytest.mark.asyncio
async def test_advance_async_wakes_a_periodic_loop_at_exactly_its_deadlines() -> None:
    clock = VirtualClock()
    period = 0.1
    seen: list[float] = []

    async def cycle() -> None:
        for k in range(1, 101):
            await clock.sleep_until(k * period)
            seen.append(clock.monotonic())

    task = asyncio.create_task(cycle())
    await clock.advance_async(0.35)
    assert seen == [1 * period, 2 * period, 3 * period]
    assert clock.monotonic() == 0.35
    await clock.advance_async(10.0)
    await asyncio.wait_for(task, EVENT_TIMEOUT_S)
    # exact, not approximately: each wake-up sees the deadline it asked for
    assert seen == [k * period for k in range(1, 101)]


@pytest.mark.asyncio
async def test_advance_async_interleaves_coroutines_in_deadline_order() -> None:
    clock = VirtualClock()
    events: list[tuple[float, str]] = []

    async def every(name: str, period: float, n: int) -> None:
        for k in range(1, n + 1):
            await clock.sleep_until(k * period)
            events.append((clock.monotonic(), name))

    fast = asyncio.create_task(every("fast", 0.25, 8))
    slow = asyncio.create_task(every("slow", 0.75, 2))
    once = asyncio.create_task(every("once", 1.1, 1))
    await clock.advance_async(2.0)
    await asyncio.wait_for(asyncio.gather(fast, slow, once), EVENT_TIMEOUT_S)

    times = [t for t, _ in events]
    assert times == sorted(times)
    assert [e for e in events if e[1] == "fast"] == [(k * 0.25, "fast") for k in range(1, 9)]
    assert [e for e in events if e[1] == "slow"] == [(0.75, "slow"), (1.5, "slow")]
    assert [e for e in events if e[1] == "once"] == [(1.1, "once")]
    assert clock.monotonic() == 2.0


@pytest.mark.asyncio
async def test_a_cancelled_sleeper_does_not_break_advance_async() -> None:
    clock = VirtualClock()
    woke: list[float] = []

    async def sleeper(deadline: float) -> None:
        await clock.sleep_until(deadline)
        woke.append(clock.monotonic())

    doomed = asyncio.create_task(sleeper(1.0))
    kept = asyncio.create_task(sleeper(2.0))
    await asyncio.sleep(0)
    doomed.cancel()
    await clock.advance_async(3.0)
    await asyncio.wait_for(kept, EVENT_TIMEOUT_S)
    assert woke == [2.0]
    assert doomed.cancelled()


@pytest.mark.asyncio
async def test_advance_async_also_wakes_threads() -> None:
    clock = VirtualClock()
    waiter = WaitingThread(clock, deadline_s=1.0)
    await clock.advance_async(1.0)
    assert await asyncio.to_thread(waiter.returned.wait, EVENT_TIMEOUT_S)
    assert waiter.result is True
    waiter.join()


def test_sync_advance_from_another_thread_wakes_a_coroutine() -> None:
    """``advance`` may run on a thread other than the loop's; the loop must notice.

    In debug mode asyncio refuses (RuntimeError) to schedule a callback from the
    wrong thread, which is what completing the future directly would do. The
    loop is private and closed without cancelling what is left, so a lost
    wake-up fails the test instead of hanging its teardown.
    """
    clock = VirtualClock()
    errors: list[BaseException] = []

    def advance() -> None:
        try:
            clock.advance(1.0)
        except BaseException as e:
            errors.append(e)

    async def scenario() -> bool:
        task = asyncio.ensure_future(clock.sleep_until(1.0))
        await asyncio.sleep(0)  # let it register its deadline
        thread = threading.Thread(target=advance)
        thread.start()
        done, _ = await asyncio.wait({task}, timeout=EVENT_TIMEOUT_S)
        thread.join(EVENT_TIMEOUT_S)
        return task in done

    loop = asyncio.new_event_loop()
    try:
        loop.set_debug(True)
        woke = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert errors == []
    assert woke


# ---------------------------------------------------------------------- real


def test_real_clock_reads_the_system_clock() -> None:
    clock = RealClock()
    before = time.time()
    now = clock.time()
    after = time.time()
    assert before <= now <= after
    m1 = clock.monotonic()
    m2 = clock.monotonic()
    assert m1 <= m2


@pytest.mark.asyncio
async def test_real_sleep_until_a_past_deadline_returns_promptly() -> None:
    clock = RealClock()
    start = time.perf_counter()
    await asyncio.wait_for(clock.sleep_until(clock.monotonic() - 3600.0), EVENT_TIMEOUT_S)
    await asyncio.wait_for(clock.sleep_until(clock.monotonic()), EVENT_TIMEOUT_S)
    assert time.perf_counter() - start < 0.5


@pytest.mark.asyncio
async def test_real_sleep_until_does_not_return_early() -> None:
    clock = RealClock()
    deadline = clock.monotonic() + 0.02
    await asyncio.wait_for(clock.sleep_until(deadline), EVENT_TIMEOUT_S)
    assert clock.monotonic() >= deadline - 1e-3  # asyncio may fire within its resolution


def test_real_wait_until() -> None:
    clock = RealClock()
    stop = threading.Event()
    assert clock.wait_until(clock.monotonic() - 1.0, stop) is True
    start = time.perf_counter()
    deadline = clock.monotonic() + 0.02
    assert clock.wait_until(deadline, stop) is True
    assert clock.monotonic() >= deadline
    assert time.perf_counter() - start < 1.0
    stop.set()
    assert clock.wait_until(clock.monotonic() - 1.0, stop) is False


def test_real_wait_until_returns_false_promptly_when_stopped() -> None:
    clock = RealClock()
    waiter = WaitingThread(clock, deadline_s=clock.monotonic() + 3600.0)
    waiter.stop.set()
    assert waiter.returned.wait(EVENT_TIMEOUT_S)
    assert waiter.result is False
    waiter.join()
