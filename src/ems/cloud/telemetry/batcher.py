"""Group telemetry from many edges into few large writes, and say when each is durable.

Every ``/ws/edge`` handler calls ``await batcher.submit(rows)`` and sends
``telemetry_ack`` only after it returns: the rows are then committed, together
with those of other edges that arrived within the same ``max_delay_s``.
Large batches are what make COPY fast; the delay bounds the added latency.

- At most ``max_concurrent`` flushes at a time (each on its own database
  connection), started oldest batch first. A batch is flushed when it holds
  ``max_rows`` rows, or ``max_delay_s`` after its first row arrived. A
  submission is never split, so a batch may exceed ``max_rows`` by less than
  one submission; rows arriving during a flush start the next batch. With
  more than one flush at a time, a later batch may commit first: fine, since
  each edge submits its next frame only after the previous one is durable,
  and the stores' latest values only ever move forward.
- A failed flush raises the store's error in every submitter of that batch
  (so none of them acks) and the batcher carries on with later batches.
- A submitter that is cancelled does not cancel the write of its rows: they
  are already part of a batch that others may be waiting on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ems.cloud.telemetry.model import Row, TelemetryStore

__all__ = ["BatcherStats", "TelemetryBatcher"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BatcherStats:
    """Running totals since the batcher was made (for ``/metrics``)."""

    rows_written: int = 0
    batches_written: int = 0
    failures: int = 0  # failed flushes
    rows_failed: int = 0
    last_flush_s: float = 0.0  # wall time of the last flush, successful or not, in seconds
    last_batch_rows: int = 0


@dataclass(slots=True, eq=False)  # by identity: batches live in a set while written
class _Batch:
    opened_at: float  # loop.time() of its first row
    done: asyncio.Future[None]
    rows: list[Row] = field(default_factory=list)


class TelemetryBatcher:
    """Batches ``submit`` calls into ``store.write`` calls; see the module docstring."""

    def __init__(
        self,
        store: TelemetryStore,
        *,
        max_rows: int = 5000,
        max_delay_s: float = 0.2,
        max_concurrent: int = 1,
    ) -> None:
        if max_rows < 1 or max_delay_s < 0 or max_concurrent < 1:
            raise ValueError("max_rows and max_concurrent must be >= 1 and max_delay_s >= 0")
        self._store = store
        self._max_rows = max_rows
        self._max_delay_s = max_delay_s
        self._batches: collections.deque[_Batch] = collections.deque()
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._max_concurrent = max_concurrent
        self._flushing: set[_Batch] = set()
        self._writers: set[asyncio.Task[None]] = set()
        self._closing = False
        self.stats = BatcherStats()
        #: Called after every flush, successful or not: (rows, seconds it took).
        self.on_flush: Callable[[int, float], None] = lambda _rows, _seconds: None

    @property
    def pending_rows(self) -> int:
        """Rows submitted and not yet flushed (including the batch being written)."""
        return sum(len(b.rows) for b in self._batches)

    async def submit(self, rows: Sequence[Row]) -> None:
        """Return once ``rows`` are committed; raise what the store raised if they are not.

        Raises ``RuntimeError`` after :meth:`close`.
        """
        if self._closing:
            raise RuntimeError("telemetry batcher is closed")
        if not rows:
            return
        loop = asyncio.get_running_loop()
        if self._flusher is None:
            self._flusher = loop.create_task(self._run(), name="telemetry-batcher")
        tail = self._batches[-1] if self._batches else None
        # The head batch may be mid-flush: never add to it; and never grow past max_rows.
        if tail is None or self._in_flight(tail) or len(tail.rows) >= self._max_rows:
            tail = _Batch(opened_at=loop.time(), done=loop.create_future())
            self._batches.append(tail)
            self._wake.set()
        tail.rows.extend(rows)
        if len(tail.rows) >= self._max_rows:
            self._wake.set()
        # shield: cancelling one submitter must not cancel the batch others wait on.
        await asyncio.shield(tail.done)

    async def close(self) -> None:
        """Flush everything pending, then stop. Later ``submit`` calls raise. Idempotent."""
        self._closing = True
        self._wake.set()
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            await asyncio.shield(flusher)

    def _in_flight(self, batch: _Batch) -> bool:
        return batch in self._flushing

    async def _run(self) -> None:
        try:
            await self._loop()
        except BaseException as exc:
            # Cancelled (loop shutdown) or a bug: nobody may wait forever for an ack.
            self._closing = True
            for writer in self._writers:
                writer.cancel()
            error = RuntimeError(f"telemetry batcher stopped: {exc!r}")
            while self._batches:
                done = self._batches.popleft().done
                if not done.done():
                    done.set_exception(error)
                    done.exception()
            raise

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            waiting = [b for b in self._batches if b not in self._flushing]
            if not waiting:
                if self._closing and not self._batches:
                    return
                self._wake.clear()
                await self._wake.wait()  # a new batch, or a flush finished
                continue
            head = waiting[0]
            ready = (
                self._closing
                # submit opens a new batch only when the last one was full or being
                # written, so a waiting batch with successors is full
                or len(waiting) > 1
                or len(head.rows) >= self._max_rows
            )
            wait_s = head.opened_at + self._max_delay_s - loop.time()
            busy = len(self._flushing) >= self._max_concurrent
            if busy or (not ready and wait_s > 0):
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(None if busy else wait_s):
                        await self._wake.wait()
                continue  # re-check: full, due, closing, or a writer free
            self._flushing.add(head)
            writer = loop.create_task(self._write(head), name="telemetry-write")
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)

    async def _write(self, batch: _Batch) -> None:
        try:
            await self._flush(batch)
        finally:
            if not batch.done.done():  # cancelled mid-write: nobody may wait forever
                batch.done.set_exception(RuntimeError("telemetry write cancelled"))
                batch.done.exception()
            self._flushing.discard(batch)
            # Only now: if the flush was interrupted, _run still finds the batch to fail.
            with contextlib.suppress(ValueError):
                self._batches.remove(batch)
            self._wake.set()

    async def _flush(self, batch: _Batch) -> None:
        started = time.perf_counter()
        try:
            await self._store.write(batch.rows)
        except Exception as exc:
            self.stats.failures += 1
            self.stats.rows_failed += len(batch.rows)
            log.warning(
                "telemetry batch failed",
                extra={"rows": len(batch.rows), "error": repr(exc)},
            )
            if not batch.done.done():
                batch.done.set_exception(exc)
                batch.done.exception()  # mark retrieved: submitters that went away left none
        else:
            self.stats.rows_written += len(batch.rows)
            self.stats.batches_written += 1
            if not batch.done.done():
                batch.done.set_result(None)
        finally:
            self.stats.last_flush_s = time.perf_counter() - started
            self.stats.last_batch_rows = len(batch.rows)
            self.on_flush(len(batch.rows), self.stats.last_flush_s)
