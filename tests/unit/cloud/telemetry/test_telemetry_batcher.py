"""The batcher: durable-on-return, batching by size and by delay, failures, close."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from ems.cloud.telemetry import TelemetryBatcher, TelemetryRow

T0 = 1_767_225_600.0


def rows(edge: str, n: int, start: int = 0) -> list[TelemetryRow]:
    return [
        TelemetryRow(T0 + start + i, edge, "grid/ActivePower", float(i), None) for i in range(n)
    ]


class FakeStore:
    """Records batches; can hold a write open (``gate``) or fail the next ones."""

    def __init__(self) -> None:
        self.batches: list[list[TelemetryRow]] = []
        self.gate: asyncio.Event | None = None
        self.writing = asyncio.Event()  # set while a write is in progress
        self.failures: list[Exception] = []
        self.concurrent = 0
        self.max_concurrent = 0

    @property
    def written(self) -> list[TelemetryRow]:
        return [row for batch in self.batches for row in batch]

    async def write(self, rows: Sequence[TelemetryRow]) -> None:
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        self.writing.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.failures:
                raise self.failures.pop(0)
            self.batches.append(list(rows))
        finally:
            self.concurrent -= 1
            self.writing.clear()


@pytest.mark.asyncio
async def test_concurrent_submitters_share_one_durable_batch() -> None:
    store = FakeStore()
    batcher = TelemetryBatcher(store, max_rows=1000, max_delay_s=0.01)  # type: ignore[arg-type]

    async def edge(name: str) -> None:
        mine = rows(name, 3)
        await batcher.submit(mine)
        assert all(row in store.written for row in mine)  # durable when submit returns

    await asyncio.gather(*(edge(f"site-{i}") for i in range(20)))
    assert [len(b) for b in store.batches] == [60]
    assert (batcher.stats.rows_written, batcher.stats.batches_written) == (60, 1)
    assert batcher.stats.last_batch_rows == 60
    assert batcher.pending_rows == 0
    await batcher.close()


@pytest.mark.asyncio
async def test_flush_by_size_does_not_wait_for_the_delay() -> None:
    store = FakeStore()
    batcher = TelemetryBatcher(store, max_rows=6, max_delay_s=3600)  # type: ignore[arg-type]
    first = asyncio.create_task(batcher.submit(rows("site-1", 3)))
    await asyncio.sleep(0)  # let it queue
    assert not first.done() and store.batches == []
    # The second submission fills the batch: both return without the hour's wait.
    await asyncio.wait_for(batcher.submit(rows("site-2", 3)), timeout=5)
    await first
    assert [len(b) for b in store.batches] == [6]
    await batcher.close()


@pytest.mark.asyncio
async def test_flush_by_delay() -> None:
    store = FakeStore()
    batcher = TelemetryBatcher(store, max_rows=1000, max_delay_s=0.05)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(batcher.submit(rows("site-1", 2)), timeout=5)
    assert loop.time() - started >= 0.04  # waited for company, about max_delay_s
    assert [len(b) for b in store.batches] == [2]
    await batcher.close()


@pytest.mark.asyncio
async def test_one_flush_at_a_time_and_later_rows_form_the_next_batch() -> None:
    store = FakeStore()
    store.gate = asyncio.Event()
    batcher = TelemetryBatcher(store, max_rows=2, max_delay_s=3600)  # type: ignore[arg-type]
    a = asyncio.create_task(batcher.submit(rows("site-1", 2)))
    await asyncio.wait_for(store.writing.wait(), timeout=5)  # batch A is being written
    b = asyncio.create_task(batcher.submit(rows("site-2", 2)))
    c = asyncio.create_task(batcher.submit(rows("site-3", 1)))
    await asyncio.sleep(0)
    assert batcher.pending_rows == 5
    store.gate.set()
    await asyncio.wait_for(asyncio.gather(a, b), timeout=5)  # B was full: flushed right after A
    assert not c.done()  # a batch of its own (B was full), waiting for company
    await batcher.close()
    await c
    assert [[r.edge_id for r in batch] for batch in store.batches] == [
        ["site-1", "site-1"],
        ["site-2", "site-2"],
        ["site-3"],
    ]
    assert store.max_concurrent == 1


@pytest.mark.asyncio
async def test_a_failed_flush_raises_in_its_submitters_only() -> None:
    store = FakeStore()
    store.failures.append(ConnectionError("database went away"))
    batcher = TelemetryBatcher(store, max_rows=4, max_delay_s=3600)  # type: ignore[arg-type]
    doomed = [asyncio.create_task(batcher.submit(rows(f"site-{i}", 2))) for i in range(2)]
    results = await asyncio.gather(*doomed, return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    assert store.batches == []
    # The batcher keeps working for later batches.
    await asyncio.wait_for(batcher.submit(rows("site-9", 4)), timeout=5)
    assert [len(b) for b in store.batches] == [4]
    stats = batcher.stats
    assert (stats.failures, stats.rows_failed, stats.rows_written, stats.batches_written) == (
        1,
        4,
        4,
        1,
    )
    await batcher.close()


@pytest.mark.asyncio
async def test_a_cancelled_submitter_does_not_cancel_the_batch() -> None:
    store = FakeStore()
    store.gate = asyncio.Event()
    batcher = TelemetryBatcher(store, max_rows=4, max_delay_s=3600)  # type: ignore[arg-type]
    quitter = asyncio.create_task(batcher.submit(rows("site-1", 2)))
    stayer = asyncio.create_task(batcher.submit(rows("site-2", 2)))
    await asyncio.wait_for(store.writing.wait(), timeout=5)
    quitter.cancel()
    store.gate.set()
    await asyncio.wait_for(stayer, timeout=5)
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert sorted({r.edge_id for r in store.written}) == ["site-1", "site-2"]
    await batcher.close()


@pytest.mark.asyncio
async def test_close_flushes_pending_rows_then_refuses() -> None:
    store = FakeStore()
    batcher = TelemetryBatcher(store, max_rows=1000, max_delay_s=3600)  # type: ignore[arg-type]
    pending = asyncio.create_task(batcher.submit(rows("site-1", 3)))
    await asyncio.sleep(0)
    await asyncio.wait_for(batcher.close(), timeout=5)
    await pending
    assert [len(b) for b in store.batches] == [3]
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.submit(rows("site-1", 1))
    await batcher.close()  # idempotent


@pytest.mark.asyncio
async def test_empty_submit_and_unused_close_are_no_ops() -> None:
    store = FakeStore()
    batcher = TelemetryBatcher(store)  # type: ignore[arg-type]
    await batcher.submit([])
    await batcher.close()
    assert store.batches == []


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="max_rows"):
        TelemetryBatcher(FakeStore(), max_rows=0)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_stopped_flusher_fails_every_waiting_submitter() -> None:
    store = FakeStore()
    store.gate = asyncio.Event()
    batcher = TelemetryBatcher(store, max_rows=2, max_delay_s=3600)  # type: ignore[arg-type]
    writing = asyncio.create_task(batcher.submit(rows("site-1", 2)))
    await asyncio.wait_for(store.writing.wait(), timeout=5)
    queued = asyncio.create_task(batcher.submit(rows("site-2", 1)))
    await asyncio.sleep(0)
    assert batcher._flusher is not None
    batcher._flusher.cancel()  # as at event loop shutdown
    for task in (writing, queued):
        with pytest.raises(RuntimeError, match="stopped"):
            await asyncio.wait_for(task, timeout=5)
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.submit(rows("site-3", 1))
    await batcher.close()


@pytest.mark.asyncio
async def test_up_to_max_concurrent_flushes_at_once_and_each_acks_its_own() -> None:
    store = FakeStore()
    store.gate = asyncio.Event()
    batcher = TelemetryBatcher(store, max_rows=2, max_delay_s=3600, max_concurrent=2)  # type: ignore[arg-type]
    a = asyncio.create_task(batcher.submit(rows("site-1", 2)))
    b = asyncio.create_task(batcher.submit(rows("site-2", 2)))
    c = asyncio.create_task(batcher.submit(rows("site-3", 2)))
    for _ in range(20):  # let the flusher start what it may
        await asyncio.sleep(0)
    assert store.concurrent == 2  # A and B are written at once; C waits for a writer
    assert not (a.done() or b.done() or c.done())
    store.gate.set()
    await asyncio.wait_for(asyncio.gather(a, b, c), timeout=5)
    assert store.max_concurrent == 2
    assert (
        sorted(r.edge_id for r in store.written) == ["site-1"] * 2 + ["site-2"] * 2 + ["site-3"] * 2
    )
    assert batcher.pending_rows == 0
    await batcher.close()


def test_rejects_a_concurrency_below_one() -> None:
    with pytest.raises(ValueError, match="max_concurrent"):
        TelemetryBatcher(FakeStore(), max_concurrent=0)  # type: ignore[arg-type]
