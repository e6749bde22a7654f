"""GCRA buckets in Redis (one Lua script), and the command guard: rate limit + replay + freshness.

Layout (``P`` is the key prefix):

- ``P:rl:<scope>:<id>`` string: the bucket's theoretical arrival time [ms, Unix
  epoch]; expires ``BUCKET_KEY_MARGIN_MS`` after the bucket is full again, so
  idle keys vanish by themselves.
- ``P:replay:<command_id>`` string: a command id seen; expires after the replay
  window (at least 60 s, longer for a command stamped in the future, see
  :meth:`CommandGuard.check`).

Times come from the caller's clock (wall-clock UTC, like the in-flight
deadlines): the processes' clocks must be in sync, and tests can drive them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as redis_async

from ems.protocol import reasons
from ems.ratelimit.gcra import ALLOWED, Decision, Rate, key_part

__all__ = [
    "BUCKET_KEY_MARGIN_MS",
    "TAKE_CHECKS_LUA",
    "CommandGuard",
    "GuardRefusal",
    "RedisLimiter",
    "SyncRedisLimiter",
]

#: How long a bucket key outlives the moment its bucket is full again [ms].
BUCKET_KEY_MARGIN_MS = 10_000

# Atomicity: read, decide and write the bucket (and record the command id) in
# one script, so two cloud processes taking the user's last token at the same
# moment cannot both get it, and a replayed id is refused even when both
# copies arrive on different processes at once (SET NX answers one of them).
# The bucket key's expiry runs on Redis's clock, its content on the callers'
# (``now``): a key that outlives its refill by a margin is harmless (an old
# ``tat`` reads as a full bucket), one that expired early hands out a fresh
# burst. So the margin covers callers' clocks that differ a little and a round
# trip that stalls. KEYS: bucket, [replay key]. ARGV: now [ms], interval [ms],
# burst, consume (1/0), replay ttl [ms], key margin [ms]. Returns {0, 0}
# allowed; {1, retry [ms]} over the limit (nothing written: a refused command
# does not use up its id); {2, 0} a replay.
TAKE_CHECKS_LUA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * tonumber(ARGV[3])
if allow_at > now then
  return {1, math.ceil(allow_at - now)}
end
if ARGV[4] == '1' then
  local ttl = math.ceil(new_tat - now) + tonumber(ARGV[6])
  redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', ttl)
end
if #KEYS > 1 then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[5]) then
    return {2, 0}
  end
end
"""
_TAKE = TAKE_CHECKS_LUA + "return {0, 0}\n"


def _decision(reply: Any) -> Decision | None:
    """None for a replay."""
    code, retry_ms = int(reply[0]), int(reply[1])
    if code == 0:
        return ALLOWED
    if code == 1:
        return Decision(False, retry_ms / 1000.0)
    return None


def _args(rate: Rate, now_s: float, consume: bool, replay_ttl_ms: int = 0) -> list[Any]:
    return [
        repr(now_s * 1000.0),
        repr(rate.interval_ms),
        rate.burst,
        int(consume),
        replay_ttl_ms,
        BUCKET_KEY_MARGIN_MS,
    ]


class RedisLimiter:
    """GCRA buckets in Redis, shared by every client of the server (asyncio)."""

    def __init__(self, client: redis_async.Redis, key_prefix: str = "ems") -> None:
        self._prefix = key_prefix
        self._take = client.register_script(_TAKE)

    def bucket_key(self, scope: str, ident: str) -> str:
        return f"{self._prefix}:rl:{scope}:{key_part(ident)}"

    def replay_key(self, command_id: str) -> str:
        return f"{self._prefix}:replay:{key_part(command_id)}"

    async def take(
        self, scope: str, ident: str, rate: Rate, now_s: float, *, consume: bool = True
    ) -> Decision:
        """Take one token from the bucket ``scope``/``ident`` (``consume=False``: only look)."""
        reply = await self._take(
            keys=[self.bucket_key(scope, ident)], args=_args(rate, now_s, consume)
        )
        decision = _decision(reply)
        assert decision is not None
        return decision

    async def run_take(self, keys: list[str], args: list[Any]) -> Any:
        """The bucket script with prepared ``keys`` and ``args`` (see :class:`CommandGuard`)."""
        return await self._take(keys=keys, args=args)

    async def take_once(
        self, scope: str, ident: str, rate: Rate, now_s: float, once_key: str, ttl_s: float
    ) -> Decision | None:
        """:meth:`take`, then record ``once_key`` for ``ttl_s`` [s] if it is new, in one
        step. None if ``once_key`` was already there (the token is used all the same);
        when over the limit nothing is recorded."""
        reply = await self._take(
            keys=[self.bucket_key(scope, ident), once_key],
            args=_args(rate, now_s, True, max(1, math.ceil(ttl_s * 1000.0))),
        )
        return _decision(reply)


class SyncRedisLimiter:
    """:class:`RedisLimiter`'s buckets on a blocking client (the Django auth service)."""

    def __init__(self, client: redis.Redis, key_prefix: str = "ems") -> None:
        self._prefix = key_prefix
        self._take = client.register_script(_TAKE)

    def take(self, key: str, rate: Rate, now_s: float, *, consume: bool = True) -> Decision:
        scope, _, ident = key.partition(":")
        reply = self._take(
            keys=[f"{self._prefix}:rl:{scope}:{key_part(ident)}"],
            args=_args(rate, now_s, consume),
        )
        decision = _decision(reply)
        assert decision is not None
        return decision


@dataclass(frozen=True, slots=True)
class GuardRefusal:
    """Why :class:`CommandGuard` refused a command: a reason code and a readable detail."""

    reason: str
    detail: str
    burns_id: bool
    """Whether the command id is now used up (``rate_limited`` leaves it free to retry)."""


class CommandGuard:
    """Per user: the command rate limit, then replay and freshness (DESIGN section 4).

    One Redis round trip for the bucket and the replay cache together. The order
    matters: a command over the rate limit is refused *before* its id is
    recorded, so the client may send the very same command again once the
    bucket allows (its id stays unused); every other command (a replay
    included) uses a token, so a flood of replays is limited like any flood.
    """

    def __init__(
        self,
        limiter: RedisLimiter,
        rate: Rate,
        replay_ttl_s: float = 60.0,
        max_skew_s: float = 60.0,
    ) -> None:
        self._limiter = limiter
        self._rate = rate
        self._replay_ttl_s = replay_ttl_s
        self._max_skew_s = max_skew_s

    async def check(
        self, username: str, command_id: str, issued_at_s: float, now_s: float
    ) -> GuardRefusal | None:
        """None when the command may go on to the static checks.

        The id is remembered until its ``issued_at`` turns stale (at least the
        replay window): a command stamped up to ``max_skew_s`` in the future
        would otherwise outlive a 60 s cache and could be replayed while still
        fresh.
        """
        keys, args = self.script_input(username, command_id, issued_at_s, now_s)
        reply = await self._limiter.run_take(keys, args)
        return self.refusal(reply, issued_at_s, now_s)

    def script_input(
        self, username: str, command_id: str, issued_at_s: float, now_s: float
    ) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of the bucket-and-replay step (:data:`TAKE_CHECKS_LUA`), for a
        script that does more in the same round trip (the command path adds the
        command to the in-flight set)."""
        ttl_s = max(self._replay_ttl_s, issued_at_s + self._max_skew_s - now_s)
        keys = [
            self._limiter.bucket_key("cmd", username),
            self._limiter.replay_key(command_id),
        ]
        return keys, _args(self._rate, now_s, True, max(1, math.ceil(ttl_s * 1000.0)))

    def refusal(self, reply: Any, issued_at_s: float, now_s: float) -> GuardRefusal | None:
        """The refusal that a reply of :data:`TAKE_CHECKS_LUA` (its first two elements)
        and the command's freshness call for, in that order; None: go on."""
        decision = _decision(reply)
        if decision is None:
            return GuardRefusal(reasons.REPLAY, "command_id was already used", burns_id=False)
        if not decision.allowed:
            return GuardRefusal(
                reasons.RATE_LIMITED,
                f"over {self._rate.describe('commands')}; retry in {decision.retry_after_s:.3f} s",
                burns_id=False,
            )
        return self.stale(issued_at_s, now_s)

    def stale(self, issued_at_s: float, now_s: float) -> GuardRefusal | None:
        """``stale_timestamp`` when ``issued_at`` is too far from server time."""
        skew_s = issued_at_s - now_s
        if abs(skew_s) > self._max_skew_s:
            side = "ahead of" if skew_s > 0 else "behind"
            return GuardRefusal(
                reasons.STALE_TIMESTAMP,
                f"issued_at is {abs(skew_s):.1f} s {side} server time "
                f"(at most {self._max_skew_s:g} s)",
                burns_id=True,
            )
        return None
