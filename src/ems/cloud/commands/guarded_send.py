"""One Redis round trip for a command to an edge held here: guard, then in flight.

The common case of DESIGN section 4 (this process holds the edge, nothing is
draining) needs Redis twice: the guard (rate limit, replay) and the in-flight
entry ("unless commands wait in the queue"). Both are atomic scripts on the
same server, so they run as one: the guard's steps first, exactly as
:class:`~ems.ratelimit.CommandGuard` runs them alone (a refused command is not
added), then the in-flight write of :class:`~ems.cloud.shared.InFlight`
(same keys, same layout). The checks that need no Redis (static and dynamic
limits, freshness) run before, and their refusals are reported after the
guard's, so the first failing check in DESIGN 4's order is still the reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ems.cloud.shared import InFlight, OfflineQueue
from ems.ratelimit import CommandGuard
from ems.ratelimit.redis_script import TAKE_CHECKS_LUA, GuardRefusal

__all__ = ["GuardedReply", "GuardedSend", "Then"]

# After the guard's checks (KEYS[1..2], ARGV[1..6]; they return early on a
# refusal): KEYS: in-flight deadline set, edge hash, payload hash, the edge's
# queue. ARGV[7] what to do then (0 nothing, 1 add unless the queue has
# commands, 2 only report the queue's depth); ARGV[8..11]: command id,
# deadline [s], edge id, payload. Returns {0, 0, added (1/0), depth}.
_GUARDED_SEND = (
    TAKE_CHECKS_LUA
    + """
local mode = ARGV[7]
if mode == '0' then
  return {0, 0, 0, 0}
end
local depth = redis.call('LLEN', KEYS[6])
if mode == '2' or depth > 0 then
  return {0, 0, 0, depth}
end
redis.call('ZADD', KEYS[3], ARGV[9], ARGV[8])
redis.call('HSET', KEYS[4], ARGV[8], ARGV[10])
redis.call('HSET', KEYS[5], ARGV[8], ARGV[11])
return {0, 0, 1, 0}
"""
)


class Then(enum.Enum):
    """What the round trip does once the guard let the command pass."""

    NOTHING = "0"  # a local check refused it already
    SEND = "1"  # in flight, unless commands wait in the edge's queue
    DEPTH = "2"  # over its dynamic limits: only whether commands wait


@dataclass(frozen=True, slots=True)
class GuardedReply:
    refusal: GuardRefusal | None
    """``rate_limited``, ``replay`` or ``stale_timestamp``; None: passed."""
    added: bool
    """Now in flight (:attr:`Then.SEND`, nothing waited in the queue)."""
    depth: int
    """Commands waiting in the edge's queue (when looked at)."""


class GuardedSend:
    def __init__(self, guard: CommandGuard, inflight: InFlight, queue: OfflineQueue) -> None:
        self._script = inflight.client.register_script(_GUARDED_SEND)
        self._guard = guard
        self._inflight = inflight
        self._queue = queue

    async def run(
        self,
        username: str,
        command_id: str,
        edge_id: str,
        issued_at_s: float,
        now_s: float,
        then: Then,
        *,
        deadline_s: float = 0.0,
        envelope: str = "",
    ) -> GuardedReply:
        keys, args = self._guard.script_input(username, command_id, issued_at_s, now_s)
        reply: list[Any] = await self._script(
            keys=[*keys, *self._inflight.keys, self._queue.queue_key(edge_id)],
            args=[*args, then.value, command_id, repr(deadline_s), edge_id, envelope],
        )
        refusal = self._guard.refusal(reply, issued_at_s, now_s)
        if refusal is not None or len(reply) < 4:
            return GuardedReply(refusal, False, 0)
        return GuardedReply(None, int(reply[2]) == 1, int(reply[3]))
