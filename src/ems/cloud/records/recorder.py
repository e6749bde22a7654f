"""The recorder: turns the dispatcher's status changes into records, hot and durable.

The dispatcher calls :meth:`Recorder.on_status` synchronously, on the event
loop, in the middle of handling a command or an ack; it must not wait for
Redis or a database there. So ``on_status`` only queues the change, and
:meth:`Recorder.run`, one background task, writes them in the order they
happened: each batch (what queued up while the previous one was written and
during ``linger_s`` after the first change of the batch, at most
``max_batch`` changes) first to Redis, then to the database in one
transaction. A quiet cloud writes each change ``linger_s`` (10 ms) after it
happened; a busy one writes large batches, a few round trips for many
commands instead of several per command.

**Nothing is dropped silently.** A failed write is retried ``attempts`` times
(with doubling pauses from ``retry_delay_s``); both copies accept a repeated
event without duplicating it, so a retry is safe even when the failed attempt
partly succeeded. A batch the database still refuses is logged at ERROR, each
final status on its own line with its command id, and counted in
:attr:`RecorderStats.lost`; its hot copy still serves reads for a day.

Reads merge both copies (:func:`~ems.cloud.records.model.merge_records`):
before reading, they wait (at most ``read_wait_s``) until Redis holds every
change queued so far, so a client that saw an ack reads the record with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from ems.audit import AuditEvent
from ems.cloud.records.model import (
    CommandInfo,
    CommandRecord,
    CommandStore,
    StatusChange,
    StatusEvent,
    TraceEntry,
    merge_records,
    micros,
    supersedes,
)
from ems.cloud.records.recent import RecentChanges
from ems.cloud.records.redis_hot import HotRecords
from ems.protocol import UiAck

if TYPE_CHECKING:
    from ems.cloud.commands import Tracked

__all__ = ["Recorder", "RecorderStats"]

log = logging.getLogger(__name__)

_STOP: Final = object()  # queued by stop(): everything before it is written first


@dataclass(slots=True)
class RecorderStats:
    """Running totals since start (for ``/metrics``)."""

    changes: int = 0  # status changes queued
    batches: int = 0  # batches written (to the database)
    hot_failures: int = 0  # batches Redis refused after every attempt
    lost: int = 0  # changes the database refused after every attempt
    trace_entries: int = 0  # audit waypoints queued (cloud and edge)
    trace_lost: int = 0  # waypoints the database refused after every attempt


class Recorder:
    """Queues status changes and writes them to ``hot`` (Redis) and ``store`` (database)."""

    def __init__(
        self,
        hot: HotRecords,
        store: CommandStore,
        *,
        max_batch: int = 500,
        attempts: int = 4,
        retry_delay_s: float = 0.2,
        read_wait_s: float = 1.0,
        recent: RecentChanges | None = None,
        linger_s: float = 0.010,
    ) -> None:
        if max_batch < 1 or attempts < 1:
            raise ValueError("max_batch and attempts must be >= 1")
        if linger_s < 0:
            raise ValueError("linger_s must be >= 0")
        self._linger_s = linger_s
        self._hot = hot
        self._store = store
        self._max_batch = max_batch
        self._attempts = attempts
        self._retry_delay_s = retry_delay_s
        self._read_wait_s = read_wait_s
        self._recent = recent or RecentChanges()
        self._queue: asyncio.Queue[StatusChange | TraceEntry | object] = asyncio.Queue()
        self._trace_seq = 0  # orders this process's waypoints that share an ``at``
        self._progress = asyncio.Condition()
        self._queued = 0  # changes queued so far
        self._hot_done = 0  # of those, written to Redis (or given up on)
        self._durable_done = 0  # of those, written to the database (or given up on)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.stats = RecorderStats()

    @property
    def backlog(self) -> int:
        """Changes queued and not yet through the database write."""
        return self._queued - self._durable_done

    # -- from the dispatcher (synchronous, on the event loop) ------------------------
    def on_status(self, tracked: Tracked, ack: UiAck) -> None:
        """A :attr:`Dispatcher.listeners` callback: queue the change, return at once."""
        # When the cloud took it: kept in the command's envelope, so a process that
        # only saw its later statuses agrees. Else the first status in the history
        # (the dispatcher appends the new status before calling listeners).
        created_at = tracked.created_at or (
            tracked.history[0][2] if tracked.history else ack.at.timestamp()
        )
        command = CommandInfo.from_dispatch(
            command_id=tracked.command_id,
            edge_id=tracked.edge_id,
            user=tracked.username,
            device=tracked.device,
            action=tracked.action,
            value=tracked.value,
            issued_at=tracked.issued_at,
            ttl_s=tracked.ttl_s,
            created_at=created_at,
        )
        event = StatusEvent(ack.status, ack.reason, ack.detail, ack.at.timestamp())
        self.record(StatusChange(command, event))

    def record(self, change: StatusChange) -> None:
        """Queue one change for writing (in order with every other)."""
        if self._stopping:
            log.error(
                "command %s status %s after the recorder stopped: not recorded",
                change.command.command_id,
                change.event.status,
                extra={"command_id": change.command.command_id, "status": change.event.status},
            )
            return
        self._recent.add(change)
        self._queued += 1
        self.stats.changes += 1
        self._queue.put_nowait(change)

    def on_audit(self, event: AuditEvent) -> None:
        """An :class:`~ems.audit.AuditTrail` listener: keep the cloud's waypoint in the
        command's trace."""
        self._trace_seq += 1
        self.record_trace(
            TraceEntry(
                event.command_id,
                f"c{micros(event.at)}-{self._trace_seq}",
                "cloud",
                event.edge_id,
                event.event,
                event.status,
                event.reason,
                event.detail,
                event.at,
                self._trace_seq,
            )
        )

    def record_trace(self, entry: TraceEntry) -> None:
        """Queue one waypoint for the database (in order with the status changes)."""
        if self._stopping:
            return
        self._queued += 1
        self.stats.trace_entries += 1
        self._queue.put_nowait(entry)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start :meth:`run` as a task of the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="command-recorder")

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Write everything queued so far, then end :meth:`run`. Idempotent.

        After ``timeout_s`` the task is cancelled and what was left unwritten is logged.
        """
        if self._stopping:
            return
        self._stopping = True
        self._queue.put_nowait(_STOP)
        task = self._task
        if task is None:
            if self.backlog:
                log.error("command recorder never ran: %d change(s) unwritten", self.backlog)
            return
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception:
            log.exception("command recorder ended with an error")
        if self.backlog:
            log.error("command recorder stopped with %d change(s) unwritten", self.backlog)

    async def run(self) -> None:
        """Write queued changes in order until :meth:`stop`."""
        while True:
            first = await self._queue.get()
            if first is _STOP:
                return
            if self._linger_s > 0 and self._queue.qsize() + 1 < self._max_batch:
                # Under load more changes follow within milliseconds: one batch for
                # them all costs one Redis and two PostgreSQL round trips instead of
                # that per change (about 1.8 batches per command without this).
                await asyncio.sleep(self._linger_s)
            batch = [first]
            stop = False
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            changes = [c for c in batch if isinstance(c, StatusChange)]
            traces = [c for c in batch if isinstance(c, TraceEntry)]
            hot_target = self._hot_done + len(changes) + len(traces)
            durable_target = self._durable_done + len(changes) + len(traces)
            try:
                await self._write(changes, traces)
            except Exception:  # a bug, not a store error: keep recording what follows
                log.exception("command recorder failed on a batch of %d", len(changes))
                # Readers waiting on this batch must not wait for it forever.
                await self._advance(
                    hot=hot_target - self._hot_done, durable=durable_target - self._durable_done
                )
            if stop:
                return

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every change queued so far went through its database write.

        Raises ``TimeoutError`` after ``timeout_s``.
        """
        target = self._queued
        async with asyncio.timeout(timeout_s), self._progress:
            await self._progress.wait_for(lambda: self._durable_done >= target)

    # -- reads -----------------------------------------------------------------------
    async def get(self, command_id: str) -> CommandRecord | None:
        """The command's record with its whole history, or ``None`` when unknown."""
        await self._settle()
        hot: CommandRecord | None = None
        try:
            hot = await self._hot.get(command_id)
        except Exception as exc:
            log.warning("hot command record unreadable: %r", exc)
        try:
            durable = await self._store.get(command_id)
        except Exception:
            if hot is None:
                raise
            log.warning("command record read from Redis only: database failed", exc_info=True)
            durable = None
        return merge_records(durable, hot)

    async def trace(self, command_id: str) -> list[TraceEntry]:
        """The command's audit waypoints, cloud and edge, in time order.

        Waits (at most ``read_wait_s``) until the database holds every waypoint
        queued so far: the trace is kept there only.
        """
        if self._task is not None and not self._task.done():
            target = self._queued
            try:
                async with asyncio.timeout(self._read_wait_s), self._progress:
                    await self._progress.wait_for(lambda: self._durable_done >= target)
            except TimeoutError:
                log.warning("reading a command trace while database writes lag behind")
        return await self._store.get_trace(command_id)

    async def list_for_edge(self, edge_id: str, limit: int) -> list[CommandRecord]:
        """The edge's ``limit`` newest commands, newest first, without history.

        The database answers, and Redis's recent index is merged in, so a command
        written to Redis but not yet to the database is listed too.
        """
        await self._settle()
        merged = {r.command.command_id: r for r in await self._store.list_for_edge(edge_id, limit)}
        try:
            hot = await self._hot.recent_for_edge(edge_id, limit)
        except Exception as exc:
            log.warning("hot command index unreadable; listing from the database: %r", exc)
            hot = []
        for record in hot:
            known = merged.get(record.command.command_id)
            if known is None or supersedes(_current(known), _current(record)):
                merged[record.command.command_id] = record
        newest = sorted(
            merged.values(),
            key=lambda r: (r.command.created_at, r.command.command_id),
            reverse=True,
        )
        return newest[:limit]

    async def unfinished(self, user: str) -> list[UiAck]:
        """An ack with the current status of each of ``user``'s unfinished commands.

        For a dashboard that (re)connects. Redis answers for every cloud
        process; this process's own recent changes are laid over it afterwards,
        without awaiting in between, so the result is never older than an ack
        this process already sent to the user's sockets. Oldest command first.
        """
        ids = [c.command.command_id for c in self._recent.for_user(user)]
        current: dict[str, StatusChange] = {}
        try:
            for found in await self._hot.unfinished(user, also=ids):
                current[found.command.command_id] = StatusChange(found.command, found.current)
        except Exception as exc:
            log.warning("unfinished commands unreadable from Redis: %r", exc)
        for change in self._recent.for_user(user):
            known = current.get(change.command.command_id)
            if known is None or supersedes(known.event, change.event):
                current[change.command.command_id] = change
        open_ = sorted(
            (c for c in current.values() if not c.event.terminal),
            key=lambda c: (c.command.created_at, c.command.command_id),
        )
        return [_ack(c) for c in open_]

    # -- writing ---------------------------------------------------------------------
    async def _write(self, changes: Sequence[StatusChange], traces: Sequence[TraceEntry]) -> None:
        if changes and not await self._attempt("Redis", self._hot.write, changes):
            self.stats.hot_failures += 1
        await self._advance(hot=len(changes) + len(traces))  # traces are kept durable only
        if changes:
            await self._write_durable(changes)
        if traces and not await self._attempt("database", self._store.write_trace, traces):
            self.stats.trace_lost += len(traces)
            log.error("%d audit waypoint(s) NOT stored in the database", len(traces))
        await self._advance(durable=len(changes) + len(traces))

    async def _write_durable(self, changes: Sequence[StatusChange]) -> None:
        if await self._attempt("database", self._store.write, changes):
            self.stats.batches += 1
            return
        self.stats.lost += len(changes)
        for change in changes:
            log.error(
                "command %s status %s%s NOT stored in the database",
                change.command.command_id,
                change.event.status,
                " (final)" if change.event.terminal else "",
                extra={
                    "command_id": change.command.command_id,
                    "edge_id": change.command.edge_id,
                    "status": change.event.status,
                    "reason": change.event.reason,
                },
            )

    async def _attempt(
        self,
        where: str,
        write: Callable[[Sequence[Any]], Awaitable[None]],
        changes: Sequence[Any],
    ) -> bool:
        for attempt in range(1, self._attempts + 1):
            try:
                await write(changes)
            except Exception as exc:
                log.warning(
                    "command records: %s write failed (attempt %d of %d): %r",
                    where,
                    attempt,
                    self._attempts,
                    exc,
                )
                if attempt < self._attempts:
                    await asyncio.sleep(self._retry_delay_s * 2 ** (attempt - 1))
            else:
                return True
        return False

    async def _advance(self, *, hot: int = 0, durable: int = 0) -> None:
        async with self._progress:
            self._hot_done += hot
            self._durable_done += durable
            self._progress.notify_all()

    async def _settle(self) -> None:
        """Wait until Redis holds every change queued so far (at most ``read_wait_s``)."""
        if self._task is None or self._task.done():
            return  # nobody would write them: do not wait
        target = self._queued
        try:
            async with asyncio.timeout(self._read_wait_s), self._progress:
                await self._progress.wait_for(lambda: self._hot_done >= target)
        except TimeoutError:
            log.warning("reading command records while Redis writes lag behind")


def _current(record: CommandRecord) -> StatusEvent:
    return StatusEvent(record.status, record.reason, None, record.updated_at)


def _ack(change: StatusChange) -> UiAck:
    e = change.event
    return UiAck(
        command_id=change.command.command_id,
        edge_id=change.command.edge_id,
        status=e.status,  # type: ignore[arg-type]  # a status the dispatcher sent
        reason=e.reason,
        detail=e.detail,
        at=datetime.fromtimestamp(e.at, UTC),
    )
