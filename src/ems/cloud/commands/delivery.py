"""Delivery to an edge held here: its offline queue on (re)connect, and commands
another cloud process accepted for it.

A queue drains in FIFO order, one drain per edge at a time; a command taken
off the queue is moved into this process's delivery list for the edge
("<node>.<edge>"), not popped, so a crash mid-delivery loses nothing
(:meth:`Delivery.recover_all` at start, :meth:`Delivery.take_over` when an
edge moves here). Routed commands go out in the order they came, after what
the drain is sending (that was accepted earlier).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ems.clock import Clock
from ems.cloud.commands.reporter import Reporter
from ems.cloud.commands.sending import Sender
from ems.cloud.commands.timeouts import fail_removed
from ems.cloud.commands.tracked import CommandBook, Tracked
from ems.cloud.hub import Hub
from ems.cloud.shared import ExpiredInQueue, OfflineQueue, ToDeliver
from ems.protocol import reasons
from ems.protocol.statuses import QUEUED, RECEIVED

__all__ = ["Delivery"]

log = logging.getLogger(__name__)


class Delivery:
    def __init__(
        self,
        hub: Hub,
        book: CommandBook,
        reporter: Reporter,
        sender: Sender,
        queue: OfflineQueue,
        clock: Clock,
        worker_id: str,
    ) -> None:
        self._hub = hub
        self._book = book
        self._reporter = reporter
        self._sender = sender
        self._queue = queue
        self._clock = clock
        self._worker_id = worker_id
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._drain_again: set[str] = set()
        self._routed: dict[str, asyncio.Task[None]] = {}  # per edge: the last routed send

    # -- recovery ----------------------------------------------------------------
    async def recover_all(self, edge_ids: Iterable[str]) -> None:
        """Put back what a crash of this process left half-delivered."""
        recovered = 0
        for edge_id in sorted(edge_ids):
            recovered += await self._queue.recover(self._worker(edge_id))
        if recovered:
            log.warning("put %d half-delivered command(s) back in their queues", recovered)

    async def take_over(self, edge_id: str, previous_node: str) -> None:
        """``edge_id`` moved here from ``previous_node``: put back what that process had
        taken off the edge's queue and not delivered (it may have died meanwhile).

        If it is alive and still sending, the edge gets that command twice and
        answers the second from its record of the first (at most once at the edge).
        """
        back = await self._queue.recover(f"{previous_node}.{edge_id}")
        if back:
            log.warning(
                "%s: put back %d command(s) %s was delivering", edge_id, back, previous_node
            )

    def tasks(self) -> list[asyncio.Task[None]]:
        return [*self._draining.values(), *self._routed.values()]

    # -- the queue ---------------------------------------------------------------
    def is_draining(self, edge_id: str) -> bool:
        task = self._draining.get(edge_id)
        return task is not None and not task.done()

    def drain(self, edge_id: str) -> None:
        """Deliver ``edge_id``'s queue in order (one drain per edge at a time)."""
        if self.is_draining(edge_id):
            # The running drain may already have seen an empty queue: make it look again.
            self._drain_again.add(edge_id)
        else:
            self._draining[edge_id] = asyncio.create_task(
                self._drain(edge_id), name=f"drain-{edge_id}"
            )

    async def _drain(self, edge_id: str) -> None:
        worker = self._worker(edge_id)
        while True:
            session = self._hub.edges.get(edge_id)
            if session is None:
                return
            taken = await self._queue.take_for_delivery(edge_id, worker, now_s=self._clock.time())
            if taken is None:
                # No await between this check and returning, so a drain() call
                # cannot slip in between and be lost.
                if edge_id in self._drain_again:
                    self._drain_again.discard(edge_id)
                    continue
                return
            now = self._clock.time()
            if isinstance(taken, ExpiredInQueue):
                fail_removed(
                    self._book,
                    self._reporter,
                    taken.expired.payload,
                    reasons.TIMEOUT_IN_QUEUE,
                    f"not delivered within its ttl ({edge_id} was offline)",
                    now,
                )
                continue
            assert isinstance(taken, ToDeliver)
            tracked = self._book.from_envelope(taken.command.payload, QUEUED)
            if not await self._sender.send(tracked, session, now):
                # The socket closed under us: back to the front of the queue.
                await self._sender.inflight.complete(tracked.command_id)
                await self._queue.recover(worker)
                return
            await self._queue.delivered(edge_id, worker, tracked.command_id)

    # -- from another process ----------------------------------------------------
    def on_routed(self, message: Mapping[str, Any]) -> None:
        """A command another process accepted for an edge held here: send it on, in order."""
        tracked = self._book.from_envelope(message["envelope"], RECEIVED)
        tracked.routed = True
        edge_id = tracked.edge_id
        previous = self._routed.get(edge_id)
        task = asyncio.create_task(
            self._send_routed(tracked, float(message["deadline"]), previous),
            name=f"routed-{tracked.command_id}",
        )
        self._routed[edge_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._routed.get(edge_id) is done:
                del self._routed[edge_id]

        task.add_done_callback(forget)

    async def _send_routed(
        self, tracked: Tracked, deadline_s: float, previous: asyncio.Task[None] | None
    ) -> None:
        # In the order they came (one after the other), and after what this
        # process is draining from the edge's queue: those were accepted earlier.
        if previous is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)
        while self.is_draining(tracked.edge_id):
            with contextlib.suppress(Exception):
                await asyncio.shield(self._draining[tracked.edge_id])
        session = self._hub.edges.get(tracked.edge_id)
        if session is None or tracked.terminal or self._clock.time() >= deadline_s:
            # Gone meanwhile, or too late: the watchdog reports edge_timeout.
            self._reporter.waypoint(
                "cloud.routed_undeliverable",
                tracked.command_id,
                tracked.username,
                tracked.edge_id,
                tracked.status,
                None,
            )
            return
        self._sender.emit(tracked, session, deadline_s)

    def _worker(self, edge_id: str) -> str:
        # One delivery list per edge, so putting back one edge's half-delivered
        # command never touches another edge's.
        return f"{self._worker_id}.{edge_id}"
