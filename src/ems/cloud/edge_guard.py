"""Abuse limits on ``/ws/edge``: failed logins per address, acks per edge.

**Failed logins** (a token bucket per client address, in Redis so every cloud
process counts together): only failures use tokens, so an edge that
reconnects often with the right key is never locked out; an address out of
tokens is closed with 4429 before its key is even looked at, for
``retry_after`` seconds.

**Acks** (100/s per edge, burst 100): an edge over its budget is *slowed
down*, not cut off. The cloud stops reading that socket until the bucket has a
token again (TCP back-pressure then slows the sender), and tells the edge (at
most every 10 s) with an ``error`` frame ``rate_limited``, a log line and a
counter (``acks_throttled``). Nothing is dropped: an ack is a command's only way to its final
status, and a dropped ``executed`` would become a false ``edge_timeout`` for
a command that ran; closing the socket would lose what the edge had already
sent, and a legitimate edge draining a long offline queue would be cut off
again on every reconnect. The cost of a flood to the cloud is so bounded to
the budget's Redis work. The bucket lives in this process: an edge's socket
is held by exactly one cloud process (a newer connection replaces it), so the
per-process bucket is the per-edge bucket, at no Redis round trip per ack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ems.ratelimit import Decision, LocalLimiter, Rate, RedisLimiter

__all__ = ["CLOSE_RATE_LIMITED", "EdgeGuard"]

log = logging.getLogger(__name__)

#: Close code for a connection refused by a rate limit (like HTTP 429).
CLOSE_RATE_LIMITED = 4429


class EdgeGuard:
    def __init__(
        self,
        limiter: RedisLimiter,
        login_failures: Rate,
        acks: Rate,
        clock: Callable[[], float],
    ) -> None:
        self._limiter = limiter
        self._login_failures = login_failures
        self._acks = acks
        self._local = LocalLimiter()
        self._clock = clock
        self.ack_rate = acks
        #: Acks that had to wait for the budget, since start (for metrics).
        self.acks_throttled = 0
        #: Edge connections refused for too many failed logins, since start.
        self.logins_refused = 0

    async def login_allowed(self, address: str) -> Decision:
        """Whether ``address`` may try a key now (looks, uses no token)."""
        decision = await self._limiter.take(
            "edge-login", address, self._login_failures, self._clock(), consume=False
        )
        if not decision.allowed:
            self.logins_refused += 1
        return decision

    async def login_failed(self, address: str) -> None:
        await self._limiter.take("edge-login", address, self._login_failures, self._clock())

    def ack_wait_s(self, edge_id: str) -> float:
        """Take a token for one ack of ``edge_id``: 0, or how long to wait first [s]."""
        decision = self._local.take(edge_id, self._acks, self._clock())
        return 0.0 if decision.allowed else decision.retry_after_s
