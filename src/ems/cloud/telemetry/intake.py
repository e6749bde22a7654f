"""How much telemetry one cloud process holds before it stops reading edges' sockets.

Every frame's rows are *admitted* before they are queued for the database and
*released* once durable (or failed). While the rows admitted reach
``max_rows``, the socket handler that wants to admit more waits, and so reads
nothing more from its edge: TCP pushes back, and the edge keeps what it cannot
send in its durable buffer until the cloud catches up. Past its capacity the
process therefore holds a bounded amount of telemetry (``max_rows``, plus one
decoded frame per waiting edge) instead of a queue that grows until it
collapses, and nothing is lost.

A socket's reading waits only so long (the endpoint's choice): then that frame
is *shed* (not stored, not acked: the edge sends it again from its buffer) and
for a while the socket is read without waiting, its telemetry stored where
there is room at once and shed where there is not, so the acks and other
frames behind it in the TCP stream are read, not stuck behind telemetry the
process cannot store anyway.

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
    shed_frames: int = 0  # frames read and not stored (not acked: the edge sends them again)
    last_shed_s: float | None = None  # clock() of the last shed frame


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
        """Sockets whose reading waits for room now."""
        return len(self._waiters)

    def shedding(self, within_s: float = 10.0) -> bool:
        """Past capacity: a socket waits for room now, or a frame was shed lately."""
        last = self.stats.last_shed_s
        return bool(self._waiters) or (last is not None and self._clock() - last < within_s)

    def shed(self) -> None:
        """Count one frame read and not stored for want of room."""
        self.stats.shed_frames += 1
        self.stats.last_shed_s = self._clock()

    @property
    def full(self) -> bool:
        """No room for anything now (someone waits, or the bound is reached)."""
        return bool(self._waiters) or self._held >= self.max_rows

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
