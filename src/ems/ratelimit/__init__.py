"""Token buckets (GCRA) shared by every cloud process, and the command guard.

DESIGN section 8: 10 commands/s per user, 100 acks/s per edge, per-address
limits on HTTP and on logins. One algorithm, three places to keep its state:

- :class:`RedisLimiter` (asyncio redis-py or the embedded fakeredis): one Lua
  script per decision, atomic and shared by every cloud process, keys that
  expire by themselves. :meth:`RedisLimiter.guard_command` checks a user's
  command bucket *and* records the ``command_id`` for replay protection in the
  same script: one Redis round trip per command for both.
- :class:`SyncRedisLimiter`: the same script on a blocking client, for the
  Django auth service run on its own.
- :class:`LocalLimiter`: in this process only (an edge's acks, whose socket
  lives on exactly one process; the auth service without Redis).

Why not a library: ``limits`` has fixed/moving/sliding windows but no token
bucket with a burst; ``pyrate-limiter`` (4.x) has a Redis token bucket, but as
its own round trip: neither can fold the replay check into the same atomic
step, which the command path's budget (2,000 commands/s per process) needs.
The script is 20 lines of GCRA (the "generic cell rate algorithm", a token
bucket that stores one number per key: the theoretical arrival time).
"""

from ems.ratelimit.gcra import Decision, LocalLimiter, Rate, key_part
from ems.ratelimit.redis_script import CommandGuard, RedisLimiter, SyncRedisLimiter

__all__ = [
    "CommandGuard",
    "Decision",
    "LocalLimiter",
    "Rate",
    "RedisLimiter",
    "SyncRedisLimiter",
    "key_part",
]
