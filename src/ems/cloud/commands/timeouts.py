"""The watchdog and the queue-expiry worker (DESIGN sections 4 and 7).

Both may run on every cloud process at once: whoever removes a command from
the in-flight set or a queue (one atomic Redis step) owns its failure, so a
command never gets two final statuses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ems.clock import Clock
from ems.cloud.commands.reporter import Reporter
from ems.cloud.commands.tracked import CommandBook
from ems.cloud.shared import InFlight, OfflineQueue
from ems.protocol import reasons
from ems.protocol.statuses import FAILED, QUEUED

__all__ = ["Timeouts", "fail_removed"]

log = logging.getLogger(__name__)

_WORKER_PERIOD_S = 0.2  # how often the watchdog and the expiry worker look


def fail_removed(
    book: CommandBook, reporter: Reporter, envelope: str, reason: str, detail: str, now: float
) -> None:
    """Fail a command this process removed from the in-flight set or a queue."""
    tracked = book.from_envelope(envelope, QUEUED)
    if tracked.terminal:
        reporter.waypoint(
            "cloud.late_failure",
            tracked.command_id,
            tracked.username,
            tracked.edge_id,
            FAILED,
            reason,
        )
        return
    reporter.waypoint(
        "cloud.timed_out",
        tracked.command_id,
        tracked.username,
        tracked.edge_id,
        FAILED,
        reason,
        detail,
    )
    reporter.change(tracked, FAILED, reason, detail, now)


class Timeouts:
    def __init__(
        self,
        book: CommandBook,
        reporter: Reporter,
        inflight: InFlight,
        queue: OfflineQueue,
        clock: Clock,
        watchdog_s: float,
    ) -> None:
        self._book = book
        self._reporter = reporter
        self._inflight = inflight
        self._queue = queue
        self._clock = clock
        self._watchdog_s = watchdog_s

    async def watchdog_pass(self) -> int:
        """Fail every sent command whose deadline passed; returns how many this call failed."""
        entries = await self._inflight.claim_expired(self._clock.time())
        for entry in entries:
            fail_removed(
                self._book,
                self._reporter,
                entry.text,
                reasons.EDGE_TIMEOUT,
                f"no final status from {entry.edge_id} within {self._watchdog_s:g} s",
                self._clock.time(),
            )
        return len(entries)

    async def expiry_pass(self) -> int:
        """Fail every queued command whose ttl passed; returns how many this call failed."""
        expired = await self._queue.expire(self._clock.time())
        for command in expired:
            fail_removed(
                self._book,
                self._reporter,
                command.payload,
                reasons.TIMEOUT_IN_QUEUE,
                f"not delivered within its ttl ({command.edge_id} stayed offline)",
                self._clock.time(),
            )
        return len(expired)

    def start(self) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(self._every(self.watchdog_pass, "watchdog"), name="watchdog"),
            asyncio.create_task(self._every(self.expiry_pass, "queue expiry"), name="queue-expiry"),
        ]

    @staticmethod
    async def _every(work: Callable[[], Awaitable[int]], what: str) -> None:
        while True:
            try:
                await work()
            except Exception:
                log.exception("%s pass failed; retrying", what)
            await asyncio.sleep(_WORKER_PERIOD_S)
