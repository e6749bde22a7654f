"""Clocks: the only way the runtime reads time or waits.

Two timelines: *wall* time (UTC, epoch seconds) stamps samples and commands;
*monotonic* time (seconds) schedules deadlines, because wall time may be stepped
by NTP. :class:`VirtualClock` lets tests and ``ems simulate`` run a day in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
import time
from typing import Protocol

__all__ = ["Clock", "RealClock", "VirtualClock"]

#: How long before a deadline :class:`RealClock` stops sleeping and starts yielding [s].
SPIN_S = 0.002

#: 2026-01-01T00:00:00Z, the default start of a virtual clock.
DEFAULT_VIRTUAL_EPOCH_S = 1_767_225_600.0


class Clock(Protocol):
    """A source of time that can also wait."""

    def time(self) -> float:
        """Wall time: UTC, seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Monotonic time in seconds; only differences are meaningful."""
        ...

    async def sleep_until(self, deadline_s: float) -> None:
        """Wait (asynchronously) until ``monotonic() >= deadline_s``."""
        ...

    def wait_until(self, deadline_s: float, stop: threading.Event) -> bool:
        """Block a thread until ``monotonic() >= deadline_s``.

        Returns ``False`` early if ``stop`` is set, ``True`` when the deadline came.
        """
        ...


class RealClock:
    """The system clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep_until(self, deadline_s: float) -> None:
        # The event loop's timers wake up to ~1 ms late (epoll counts in whole
        # milliseconds), so sleep until just before the deadline, then yield in
        # a tight loop for the last stretch: other tasks still run, and the
        # cost is about SPIN_S of CPU per cycle.
        coarse = deadline_s - SPIN_S - time.monotonic()
        if coarse > 0:
            await asyncio.sleep(coarse)
        while time.monotonic() < deadline_s:  # noqa: ASYNC110 - a deliberate, short spin
            await asyncio.sleep(0)

    def wait_until(self, deadline_s: float, stop: threading.Event) -> bool:
        while True:
            remaining = deadline_s - time.monotonic()
            if remaining <= 0:
                return not stop.is_set()
            if stop.wait(remaining):
                return False


class VirtualClock:
    """A clock that only moves when told to.

    ``advance`` (sync, for threads and plain loops) or ``advance_async`` (for code
    running on an event loop) move time forward, waking every waiter whose
    deadline has come, in deadline order.
    """

    def __init__(self, start_s: float = DEFAULT_VIRTUAL_EPOCH_S) -> None:
        self._epoch_s = start_s
        self._t = 0.0
        self._cond = threading.Condition()
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._epoch_s + self._t

    def monotonic(self) -> float:
        return self._t

    def set_time(self, wall_s: float) -> None:
        """Step the wall clock (as NTP might) without moving monotonic time."""
        self._epoch_s = wall_s - self._t

    async def sleep_until(self, deadline_s: float) -> None:
        if deadline_s <= self._t:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (deadline_s, next(self._seq), fut))
        await fut

    def wait_until(self, deadline_s: float, stop: threading.Event) -> bool:
        with self._cond:
            while self._t < deadline_s and not stop.is_set():
                self._cond.wait(0.05)  # re-check stop without relying on a notify
            return not stop.is_set()

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` at once, waking every due waiter.

        Threads wake directly; due coroutines are woken on their own loop (safely,
        even when called from another thread) but all see the final time. Use
        :meth:`advance_async` to step through each coroutine deadline in turn.
        """
        if not seconds >= 0:  # also refuses NaN
            raise ValueError(f"a clock only moves forward, not by {seconds!r} s")
        with self._cond:
            self._t += seconds
            self._cond.notify_all()
        self._wake_due()

    async def advance_async(self, seconds: float) -> None:
        """Move time forward, letting woken coroutines run at each waiter's deadline.

        Time steps to each pending deadline in turn, so a loop that sleeps until
        absolute deadlines sees exactly the times it asked for.
        """
        if not seconds >= 0:  # also refuses NaN
            raise ValueError(f"a clock only moves forward, not by {seconds!r} s")
        target = self._t + seconds
        await _settle()
        while self._waiters and self._waiters[0][0] <= target:
            with self._cond:
                self._t = max(self._t, self._waiters[0][0])
                self._cond.notify_all()
            self._wake_due()
            await _settle()
        with self._cond:
            self._t = target
            self._cond.notify_all()
        await _settle()

    def _wake_due(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._t:
            _, _, fut = heapq.heappop(self._waiters)
            _resolve(fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    """Complete ``fut`` from any thread: futures are not thread-safe, and a loop
    blocked in ``select`` only notices a result set through its own wake-up."""
    loop = fut.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _set_if_pending(fut)
        return
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left waiting
        loop.call_soon_threadsafe(_set_if_pending, fut)


def _set_if_pending(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _settle(rounds: int = 8) -> None:
    """Yield to the event loop until woken tasks have run to their next await."""
    for _ in range(rounds):
        await asyncio.sleep(0)
