"""The in-flight set: commands sent to an edge and waiting for their terminal ack.

DESIGN sections 4 and 7: when the cloud sends a command to an edge it adds it
here with a deadline (now + 5 s); the terminal ack removes it
(:meth:`InFlight.complete`); the watchdog, which may run on every cloud
process at once, takes out what passed its deadline
(:meth:`InFlight.claim_expired`) and fails it with ``edge_timeout``.

**Whoever removes a command owns its terminal status.** Removal is one atomic
Redis step (a ``ZREM`` inside a Lua script, whose return value says whether
this caller removed it), so when a final ack and the watchdog race, exactly
one of them wins; the loser records the late event in the audit trail only.

Layout (``P`` is the key prefix):

- ``P:inflight:deadline`` sorted set: command id -> deadline [s, Unix epoch]
- ``P:inflight:edge`` hash: command id -> edge id
- ``P:inflight:payload`` hash: command id -> payload (bytes as given)

A command is in the sorted set if and only if its two hash fields exist: every
script below changes all three together.

Deadlines are wall-clock times (UTC epoch seconds), not monotonic ones: they
are compared across processes and hosts, whose clocks must be in sync.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis_async

__all__ = ["InFlight", "InFlightEntry"]

# Atomicity: the three writes run as one script, so no reader ever sees the command
# in the deadline set without its edge and payload (or the reverse). Re-adding a
# command id replaces its deadline, edge and payload (an upsert).
# KEYS: deadline zset, edge hash, payload hash. ARGV: command id, deadline [s], edge id, payload.
_ADD = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
return 1
"""

# Atomicity: the queue is looked at and the command added in one step, so no
# command can enter the edge's queue in between: a command goes out directly
# only while nothing waits before it (FIFO per edge).
# KEYS: deadline zset, edge hash, payload hash, the edge's offline queue.
# ARGV: command id, deadline [s], edge id, payload. Returns 1 if added, 0 if queued ones wait.
_ADD_UNLESS_QUEUED = """
if redis.call('LLEN', KEYS[4]) > 0 then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
return 1
"""

# Atomicity: ZREM returns 1 to exactly one caller for a given command id, whether
# the other contender is another complete() or a claim_expired() (which also
# removes with ZREM inside a script); only that caller deletes the hash fields
# and reports True.
# KEYS: deadline zset, edge hash, payload hash. ARGV: command id.
# Returns the payload to the remover (so a process that did not send the command,
# or sent it before a restart, still knows whose it is), nil to everyone else.
# With an edge id (ARGV[2]), only a command sent to that edge is removed: an
# edge cannot finish another edge's command. ARGV[3] '0': the caller has the
# payload already (it tracks the command): not read back, '' returned instead.
_COMPLETE = """
if ARGV[2] ~= '' and redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return false
end
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  local payload = ''
  if ARGV[3] ~= '0' then
    payload = redis.call('HGET', KEYS[3], ARGV[1])
  end
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return payload or ''
end
return false
"""

# Atomicity: the range query and the removals run as one script, so nothing can
# remove (complete) or claim an id between the two. An id is returned only when
# this script's ZREM removed it, and then it is gone for every later caller: two
# watchdogs running at once get disjoint sets, and a complete() running at the
# same time either removed the id before (it is not in the range) or finds it
# gone after (ZREM returns 0 to it).
# Scores come back as strings (RESP2 bulk replies); Lua numbers would be
# truncated to integers on the way out, so the script never converts them.
# KEYS: deadline zset, edge hash, payload hash. ARGV: now [s], limit.
# Returns a flat array: id, deadline, edge id, payload, id, deadline, ...
_CLAIM_EXPIRED = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local out = {}
for i = 1, #due, 2 do
  local id = due[i]
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local edge = redis.call('HGET', KEYS[2], id)
    local payload = redis.call('HGET', KEYS[3], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    out[#out + 1] = id
    out[#out + 1] = due[i + 1]
    out[#out + 1] = edge or ''
    out[#out + 1] = payload or ''
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class InFlightEntry:
    """A command taken out of the in-flight set by :meth:`InFlight.claim_expired`."""

    command_id: str
    edge_id: str
    deadline_s: float
    """When its watchdog fired [s, Unix epoch]."""
    payload: bytes
    """Exactly the bytes given to :meth:`InFlight.add` (a ``str`` was stored as UTF-8)."""

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8."""
        return self.payload.decode()


class InFlight:
    """The in-flight watchdog set in Redis, shared by every cloud process.

    ``redis`` must return bytes (``decode_responses=False``, as
    :func:`ems.cloud.shared.connect.shared_redis` makes it). Keys start with
    ``key_prefix``.
    """

    def __init__(self, redis: redis_async.Redis, key_prefix: str = "ems") -> None:
        self._redis = redis
        self._keys = [
            f"{key_prefix}:inflight:deadline",
            f"{key_prefix}:inflight:edge",
            f"{key_prefix}:inflight:payload",
        ]
        self._add = redis.register_script(_ADD)
        self._add_unless_queued = redis.register_script(_ADD_UNLESS_QUEUED)
        self._complete = redis.register_script(_COMPLETE)
        self._claim_expired = redis.register_script(_CLAIM_EXPIRED)

    @property
    def client(self) -> redis_async.Redis:
        """The Redis client (a script that adds a command together with another step
        registers itself here)."""
        return self._redis

    @property
    def keys(self) -> list[str]:
        """The deadline set, the edge hash and the payload hash (see the module docstring),
        for a script that adds a command together with another step."""
        return list(self._keys)

    async def add(
        self, command_id: str, edge_id: str, deadline_s: float, payload: bytes | str
    ) -> None:
        """Track ``command_id`` (sent to ``edge_id``) until ``deadline_s`` [s, Unix epoch].

        Adding an id again replaces its deadline, edge and payload.
        """
        if not math.isfinite(deadline_s):
            raise ValueError(f"deadline_s must be finite, not {deadline_s!r}")
        await self._add(keys=self._keys, args=[command_id, deadline_s, edge_id, payload])

    async def add_unless_queued(
        self,
        command_id: str,
        edge_id: str,
        deadline_s: float,
        payload: bytes | str,
        queue_key: str,
    ) -> bool:
        """:meth:`add`, but only while the list ``queue_key`` (the edge's offline queue,
        :meth:`OfflineQueue.queue_key`) is empty; False (nothing added) otherwise.

        One round trip for "may this command go out now?" and "watch it".
        """
        if not math.isfinite(deadline_s):
            raise ValueError(f"deadline_s must be finite, not {deadline_s!r}")
        added: Any = await self._add_unless_queued(
            keys=[*self._keys, queue_key], args=[command_id, deadline_s, edge_id, payload]
        )
        return int(added) == 1

    async def complete(self, command_id: str, edge_id: str | None = None) -> bool:
        """Remove ``command_id`` on its terminal ack.

        True if this call removed it: the caller owns the terminal status. False
        if it was not there (the watchdog claimed it first, or it was never
        added): the ack is late and goes to the audit trail only.
        """
        return await self.finish(command_id, edge_id, payload=False) is not None

    async def finish(
        self, command_id: str, edge_id: str | None = None, *, payload: bool = True
    ) -> bytes | None:
        """:meth:`complete`, returning the command's payload to the caller that removed it
        (None when it was not there, or was sent to another edge than ``edge_id``).
        ``payload=False``: the caller knows the command; ``b""`` instead of its payload
        (one Redis read less)."""
        found: Any = await self._complete(
            keys=self._keys, args=[command_id, edge_id or "", "1" if payload else "0"]
        )
        return None if found is None else bytes(found)

    async def contains(self, command_id: str) -> bool:
        """Whether ``command_id`` still waits for its terminal ack."""
        return await self._redis.zscore(self._keys[0], command_id) is not None

    async def claim_expired(self, now_s: float, limit: int = 100) -> list[InFlightEntry]:
        """Remove and return up to ``limit`` commands with ``deadline_s <= now_s``.

        Earliest deadline first. Every returned command was removed by this call
        and by no other: the caller fails it (``edge_timeout``). Call again while
        it returns ``limit`` entries.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        flat: list[bytes] = await self._claim_expired(keys=self._keys, args=[now_s, limit])
        return [
            InFlightEntry(
                command_id=flat[i].decode(),
                deadline_s=float(flat[i + 1]),
                edge_id=flat[i + 2].decode(),
                payload=bytes(flat[i + 3]),
            )
            for i in range(0, len(flat), 4)
        ]

    async def count(self) -> int:
        """How many commands are in flight."""
        return await self._redis.zcard(self._keys[0])

    async def next_deadline(self) -> float | None:
        """The earliest deadline in the set [s, Unix epoch], or None when it is empty.

        For a watchdog that sleeps until there is something to claim.
        """
        first = await self._redis.zrange(self._keys[0], 0, 0, withscores=True)
        for pair in first:  # (member, score) pairs: tuples in RESP2, lists in RESP3
            if isinstance(pair, tuple | list):
                return float(pair[1])
        return None
