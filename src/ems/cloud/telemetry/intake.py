"""How much telemetry one cloud process holds before it stops reading edges' sockets.

Every frame's rows are *admitted* before they are queued for the database and
*released* once durable (or failed). While the rows admitted reach
``max_rows``, the socket handler that wants to admit more waits, and so reads
nothing more from its edge: TCP pushes back, the edge's own window of unacked
frames fills, and the edge keeps the rest in its durable buffer until the
cloud catches up. Past its capacity the process therefore holds a bounded
amount of telemetry (``max_rows``, plus one decoded frame per waiting edge)
instead of a queue that grows until it collapses, and nothing is lost.

Waiters are admitted first come, first served, so every edge makes progress;
a frame larger than ``max_rows`` is admitted alone when nothing else is held.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["IntakeGate", "IntakeStats"]


@dataclass(slots=True)
class IntakeStats:
    """Running totals for ``/metrics``."""

    pauses: int = 0  # times a socket's reading waited for room
    paused_s: float = 0.0  # seconds sockets spent waiting, summed over sockets (ended waits)


class IntakeGate:
    """A first-come-first-served bound on rows held; see the module docstring."""

    def __init__(self, max_rows: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, not {max_rows!r}")
        self.max_rows = max_rows
        self._clock = clock
        self._held = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self.stats = IntakeStats()

    @property
    def held_rows(self) -> int:
        """Rows admitted and not yet released."""
        return self._held

    @property
    def waiting(self) -> int:
        """Sockets whose reading waits for room now (the process is shedding load)."""
        return len(self._waiters)

    def try_admit(self, rows: int) -> bool:
        """Admit ``rows`` now if there is room and nobody waits before us."""
        if self._waiters or not self._fits(rows):
            return False
        self._held += rows
        return True

    async def admit(self, rows: int) -> None:
        """Return once ``rows`` are admitted (at once when there is room)."""
        if self.try_admit(rows):
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (rows, waiter)
        self._waiters.append(entry)
        self.stats.pauses += 1
        started = self._clock()
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release(rows)  # admitted just as we were cancelled: give it back
            else:
                with contextlib.suppress(ValueError):  # _wake may have dropped it already
                    self._waiters.remove(entry)
                self._wake()  # we may have blocked smaller ones behind us
            raise
        finally:
            self.stats.paused_s += self._clock() - started

    def release(self, rows: int) -> None:
        """``rows`` admitted earlier are durable, failed, or abandoned."""
        self._held = max(0, self._held - rows)
        self._wake()

    def _fits(self, rows: int) -> bool:
        return self._held == 0 or self._held + rows <= self.max_rows

    def _wake(self) -> None:
        while self._waiters:
            rows, waiter = self._waiters[0]
            if waiter.done():  # cancelled: its admit removes it; skip meanwhile
                self._waiters.popleft()
                continue
            if not self._fits(rows):
                return
            self._waiters.popleft()
            self._held += rows
            waiter.set_result(None)
