"""Per-edge offline queues: FIFO, bounded, each command with its own expiry (TTL).

DESIGN sections 4 and 7: a command for an offline edge is appended to that
edge's queue (:meth:`OfflineQueue.push`, refused with ``queue_full`` at the
limit). On reconnect the cloud delivers the queue in order: it *moves* each
command into a per-worker delivery list (:meth:`OfflineQueue.take_for_delivery`,
``LMOVE``), sends it, and then drops it from that list
(:meth:`OfflineQueue.delivered`). A worker that crashes in between leaves the
command in its delivery list, and :meth:`OfflineQueue.recover` puts it back at
the front of its queue, so nothing is lost (the edge drops a duplicate
``command_id``). A command whose expiry passes while queued is failed with
``timeout_in_queue`` and never delivered: the expiry worker
(:meth:`OfflineQueue.expire`, safe to run on every process at once) removes
it, and :meth:`OfflineQueue.take_for_delivery` hands it out as
:class:`ExpiredInQueue` instead of :class:`ToDeliver`.

**Whoever removes a command from a queue owns its outcome**: every removal
happens inside one Lua script, so each command is either handed out for
delivery once or reported expired once, never both and never twice.

Times are wall-clock UTC seconds since the Unix epoch (shared by processes);
a command is expired when ``expires_at_s <= now_s``.

Layout (``P`` is the key prefix, ``E`` an edge id, ``W`` a worker id):

- ``P:queue:E`` list: the waiting commands, oldest first (JSON items)
- ``P:queue-expiry:E`` sorted set: the same items scored by ``expires_at_s``
  (an index, so finding expired commands does not scan the queue)
- ``P:queue-edges`` sorted set: edge id -> earliest expiry in its queue; holds
  exactly the edges with a non-empty queue
- ``P:delivering:W:E`` list: commands worker W took from E's queue and has not
  yet confirmed delivered
- ``P:delivering-edges:W`` set: the edges for which W has such a list

Every script keeps the invariants: an item is in ``P:queue:E`` iff it is in
``P:queue-expiry:E``, and E is in ``P:queue-edges`` iff its queue is non-empty.

A command in a delivery list does not expire there: it is already on its way
to the edge, and once sent the in-flight watchdog owns it. If the worker dies
instead, ``recover`` puts it back in the queue, where its expiry counts again.

Each item is the JSON object ``{"command_id", "expires_at_s", "payload"}``,
written by Python; the scripts move items as opaque strings and read fields
(``cjson.decode``) only to match a command id or to re-index an expiry.
Scripts touch only keys passed in ``KEYS`` (one edge's keys per call), as
Redis requires. Edge and worker ids are parts of key names and must not be
empty or contain ``:``; command ids may be anything.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias

import redis.asyncio as redis_async

from ems.protocol.reasons import QUEUE_FULL, TIMEOUT_IN_QUEUE

__all__ = [
    "QUEUE_FULL",
    "TIMEOUT_IN_QUEUE",
    "ExpiredInQueue",
    "OfflineQueue",
    "PushResult",
    "QueuedCommand",
    "Taken",
    "ToDeliver",
]


# Shared by the scripts that change a queue: point the edge's entry in
# P:queue-edges at the earliest expiry left in its queue, or drop it when the
# queue is empty.
_REFRESH_DUE = """
local function refresh_due(expiry_key, due_key, edge)
  local first = redis.call('ZRANGE', expiry_key, 0, 0, 'WITHSCORES')
  if first[1] then
    redis.call('ZADD', due_key, first[2], edge)
  else
    redis.call('ZREM', due_key, edge)
  end
end
"""

# Atomicity: the length check and the append are one step, so concurrent pushes
# can never take a queue past its limit. Pushing the very same item again (a
# retried call whose reply was lost) changes nothing and reports its place.
# KEYS: queue, expiry index, queue-edges. ARGV: limit, item, expires_at_s, edge id.
# Returns {queued (1/0), position (1-based, 0 when refused), depth}.
_PUSH = (
    _REFRESH_DUE
    + """
local depth = redis.call('LLEN', KEYS[1])
if redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  return {1, redis.call('LPOS', KEYS[1], ARGV[2]) + 1, depth}
end
if depth >= tonumber(ARGV[1]) then
  return {0, 0, depth}
end
local position = redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
refresh_due(KEYS[2], KEYS[3], ARGV[4])
return {1, position, position}
"""
)

# Atomicity: looking at the head, deciding (expired or not) and moving it are one
# step, so the head cannot be expired, taken or delivered by anyone else in
# between. A live head is moved (LMOVE, left of the queue to right of this
# worker's delivery list), never popped: until delivered() it still exists in
# Redis, and recover() can put it back. An expired head is removed and returned
# as such: this caller, and no one else, fails it.
# KEYS: queue, expiry index, queue-edges, delivery list, delivering-edges.
# ARGV: now [s], edge id. Returns {} (empty queue) or {'deliver'|'expired', item}.
_TAKE = (
    _REFRESH_DUE
    + """
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then
  return {}
end
local score = redis.call('ZSCORE', KEYS[2], head)
local expires_at = score and tonumber(score) or cjson.decode(head).expires_at_s
redis.call('ZREM', KEYS[2], head)
local kind
if expires_at <= tonumber(ARGV[1]) then
  redis.call('LPOP', KEYS[1])
  kind = 'expired'
else
  redis.call('LMOVE', KEYS[1], KEYS[4], 'LEFT', 'RIGHT')
  redis.call('SADD', KEYS[5], ARGV[2])
  kind = 'deliver'
end
refresh_due(KEYS[2], KEYS[3], ARGV[2])
return {kind, head}
"""
)

# Atomicity: find and LREM in one step; dropping the edge from the worker's
# delivering-edges set when its list empties happens in the same step, so
# recover() never misses a non-empty list.
# KEYS: delivery list, delivering-edges. ARGV: command id, edge id. Returns 1/0.
_DELIVERED = """
local removed = 0
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if cjson.decode(item).command_id == ARGV[1] then
    removed = redis.call('LREM', KEYS[1], 1, item)
    break
  end
end
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[2])
end
return removed
"""

# Atomicity: the whole delivery list goes back in one step, so no take, expire or
# push sees half of it. LMOVE RIGHT->LEFT takes the newest item of the delivery
# list and puts it at the head of the queue, so after the loop the list's items
# are at the front of the queue in their original order, ahead of everything
# that waited behind them. Each item is re-indexed by its expiry (written with
# 17 significant digits: the double round-trips exactly). The queue limit does
# not apply: these commands were accepted already.
# KEYS: delivery list, queue, expiry index, queue-edges, delivering-edges.
# ARGV: edge id. Returns the number of commands moved back.
_RECOVER = (
    _REFRESH_DUE
    + """
local moved = 0
while true do
  local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not item then
    break
  end
  local expires_at = cjson.decode(item).expires_at_s
  redis.call('ZADD', KEYS[3], string.format('%.17g', expires_at), item)
  moved = moved + 1
end
redis.call('SREM', KEYS[5], ARGV[1])
refresh_due(KEYS[3], KEYS[4], ARGV[1])
return moved
"""
)

# Atomicity: the expired items are found (through the index) and removed from
# the queue in one step, so each is returned by exactly one expire() and can no
# longer be taken for delivery; a concurrent expire() or take finds it gone.
# KEYS: queue, expiry index, queue-edges. ARGV: now [s], edge id, limit.
# Returns the removed items, earliest expiry first.
_EXPIRE = (
    _REFRESH_DUE
    + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, item in ipairs(expired) do
  redis.call('LREM', KEYS[1], 1, item)
  redis.call('ZREM', KEYS[2], item)
end
refresh_due(KEYS[2], KEYS[3], ARGV[2])
return expired
"""
)


@dataclass(frozen=True, slots=True)
class QueuedCommand:
    """A command from an edge's offline queue."""

    edge_id: str
    command_id: str
    payload: str
    expires_at_s: float
    """Deliver it before this, or fail it with ``timeout_in_queue`` [s, Unix epoch]."""


@dataclass(frozen=True, slots=True)
class PushResult:
    """What :meth:`OfflineQueue.push` did."""

    queued: bool
    """False: refused, the queue is at its limit (fail the command with ``queue_full``)."""
    position: int
    """1-based place in the edge's queue (1 is delivered next); 0 when refused."""
    depth: int
    """Commands waiting in the edge's queue after the call."""

    @property
    def reason(self) -> Literal["queue_full"] | None:
        """The failure reason when refused, else None."""
        return None if self.queued else QUEUE_FULL


@dataclass(frozen=True, slots=True)
class ToDeliver:
    """The next command to send to the edge.

    It now sits in the worker's delivery list: call
    :meth:`OfflineQueue.delivered` once the edge has it.
    """

    command: QueuedCommand


@dataclass(frozen=True, slots=True)
class ExpiredInQueue:
    """A command whose expiry passed while it waited. **Never deliver it.**

    It has been removed from the queue, by this call alone: the caller fails
    it with :attr:`reason` (``timeout_in_queue``). The command is under
    ``expired``, not ``command``, so code written for :class:`ToDeliver`
    cannot send it by mistake (the type checker rejects ``taken.command``
    until ``taken`` is narrowed to :class:`ToDeliver`).
    """

    expired: QueuedCommand
    reason: ClassVar[Literal["timeout_in_queue"]] = TIMEOUT_IN_QUEUE


#: One result of :meth:`OfflineQueue.take_for_delivery`; match on the type.
Taken: TypeAlias = ToDeliver | ExpiredInQueue


class OfflineQueue:
    """The per-edge offline queues in Redis, shared by every cloud process.

    ``redis`` must return bytes (``decode_responses=False``, as
    :func:`ems.cloud.shared.connect.shared_redis` makes it). Keys start with
    ``key_prefix``; each edge's queue holds at most ``limit`` waiting commands.

    A *worker id* names one delivering process; keep it stable across that
    process's restarts (so it can :meth:`recover` its own deliveries) and
    never share it between two live processes.
    """

    def __init__(
        self, redis: redis_async.Redis, key_prefix: str = "ems", limit: int = 10_000
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self.limit = limit
        self._redis = redis
        self._prefix = key_prefix
        self._due_key = f"{key_prefix}:queue-edges"
        self._push = redis.register_script(_PUSH)
        self._take = redis.register_script(_TAKE)
        self._delivered = redis.register_script(_DELIVERED)
        self._recover = redis.register_script(_RECOVER)
        self._expire = redis.register_script(_EXPIRE)

    async def push(
        self, edge_id: str, command_id: str, payload: str, expires_at_s: float
    ) -> PushResult:
        """Append a command to ``edge_id``'s queue, unless the queue holds ``limit`` already.

        ``expires_at_s`` [s, Unix epoch]: deliver it before then or fail it.
        Pushing the identical command again (same id, payload and expiry) while
        it waits is a no-op that reports its place, so a retried call is safe.
        """
        _check_id("edge_id", edge_id)
        if not math.isfinite(expires_at_s):
            raise ValueError(f"expires_at_s must be finite, not {expires_at_s!r}")
        item = json.dumps(
            {"command_id": command_id, "expires_at_s": expires_at_s, "payload": payload},
            separators=(",", ":"),
        )
        reply: list[int] = await self._push(
            keys=self._queue_keys(edge_id), args=[self.limit, item, expires_at_s, edge_id]
        )
        queued, position, depth = (int(x) for x in reply)
        return PushResult(queued=bool(queued), position=position, depth=depth)

    async def take_for_delivery(
        self, edge_id: str, worker_id: str, *, now_s: float
    ) -> Taken | None:
        """Take the command at the head of ``edge_id``'s queue; None when the queue is empty.

        :class:`ToDeliver`: it was moved into ``worker_id``'s delivery list;
        send it, then call :meth:`delivered`. :class:`ExpiredInQueue`: its
        expiry is at or before ``now_s`` [s, Unix epoch]; it was removed and
        must be failed with ``timeout_in_queue``, not sent. Call again until
        None to drain the queue in order.
        """
        _check_id("edge_id", edge_id)
        _check_id("worker_id", worker_id)
        keys = [*self._queue_keys(edge_id), *self._delivery_keys(worker_id, edge_id)]
        reply: list[bytes] = await self._take(keys=keys, args=[now_s, edge_id])
        if not reply:
            return None
        kind, item = reply
        command = _decode(edge_id, item)
        if kind == b"expired":
            return ExpiredInQueue(command)
        return ToDeliver(command)

    async def delivered(self, edge_id: str, worker_id: str, command_id: str) -> bool:
        """Drop a command from ``worker_id``'s delivery list: the edge has it.

        True if it was there. False if not (already confirmed, or recovered
        back into the queue meanwhile).
        """
        _check_id("edge_id", edge_id)
        _check_id("worker_id", worker_id)
        removed: Any = await self._delivered(
            keys=self._delivery_keys(worker_id, edge_id), args=[command_id, edge_id]
        )
        return int(removed) == 1

    async def recover(self, worker_id: str) -> int:
        """Put everything in ``worker_id``'s delivery lists back at the front of its queues.

        In the original order, ahead of the commands that waited behind them,
        so they are delivered again first (the edge ignores a duplicate). For a
        worker that is not running: at the start of a process that reuses the
        worker id after a crash, or by another process that saw it die. Returns
        how many commands were moved back.
        """
        _check_id("worker_id", worker_id)
        members = await self._redis.smembers(f"{self._prefix}:delivering-edges:{worker_id}")
        moved = 0
        for edge_id in sorted(_text(m) for m in members):
            delivery, delivering_edges = self._delivery_keys(worker_id, edge_id)
            queue, expiry, due = self._queue_keys(edge_id)
            count: Any = await self._recover(
                keys=[delivery, queue, expiry, due, delivering_edges], args=[edge_id]
            )
            moved += int(count)
        return moved

    async def expire(self, now_s: float, *, limit: int = 1000) -> list[QueuedCommand]:
        """Remove and return queued commands whose expiry is at or before ``now_s`` [s, Unix epoch].

        From every edge's queue, at most ``limit`` per call (call again while it
        returns ``limit``). Every returned command was removed by this call and
        by no other: the caller fails it with ``timeout_in_queue``. Commands in
        delivery lists are not expired here (see the module docstring).
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        due = await self._redis.zrangebyscore(self._due_key, "-inf", now_s)
        expired: list[QueuedCommand] = []
        for edge_id in (_text(m) for m in due):
            budget = limit - len(expired)
            if budget <= 0:
                break
            items: list[bytes] = await self._expire(
                keys=self._queue_keys(edge_id), args=[now_s, edge_id, budget]
            )
            expired += (_decode(edge_id, item) for item in items)
        return expired

    def queue_key(self, edge_id: str) -> str:
        """The Redis list holding ``edge_id``'s queue (for :meth:`InFlight.add_unless_queued`)."""
        _check_id("edge_id", edge_id)
        return self._queue_keys(edge_id)[0]

    async def depth(self, edge_id: str) -> int:
        """How many commands wait in ``edge_id``'s queue (not counting ones being delivered)."""
        _check_id("edge_id", edge_id)
        return await self._redis.llen(self._queue_keys(edge_id)[0])

    async def total_depth(self) -> int:
        """Commands waiting in every edge's queue (one pipelined round trip after the
        look-up of the edges with queues)."""
        edges = await self.edges_with_queues()
        if not edges:
            return 0
        pipe = self._redis.pipeline(transaction=False)
        for edge_id in edges:
            pipe.llen(self._queue_keys(edge_id)[0])
        return sum(int(n) for n in await pipe.execute())

    async def edges_with_queues(self) -> list[str]:
        """The edges whose queue is not empty, the one with the earliest expiry first."""
        edges = await self._redis.zrange(self._due_key, 0, -1)
        return [_text(edge) for edge in edges]

    def _queue_keys(self, edge_id: str) -> list[str]:
        """The queue, its expiry index and the queue-edges set."""
        return [
            f"{self._prefix}:queue:{edge_id}",
            f"{self._prefix}:queue-expiry:{edge_id}",
            self._due_key,
        ]

    def _delivery_keys(self, worker_id: str, edge_id: str) -> list[str]:
        """The worker's delivery list for the edge and the worker's delivering-edges set."""
        return [
            f"{self._prefix}:delivering:{worker_id}:{edge_id}",
            f"{self._prefix}:delivering-edges:{worker_id}",
        ]


def _check_id(name: str, value: str) -> None:
    """Ids that become parts of key names: non-empty, no ``:`` (keys stay unambiguous)."""
    if not value or ":" in value:
        raise ValueError(f"{name} must be non-empty and contain no ':', not {value!r}")


def _text(value: object) -> str:
    """A member of a reply as text (bytes from our clients; str from a decoding client)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise TypeError(f"unexpected reply element {value!r}")


def _decode(edge_id: str, item: bytes) -> QueuedCommand:
    fields = json.loads(item)
    return QueuedCommand(
        edge_id=edge_id,
        command_id=fields["command_id"],
        payload=fields["payload"],
        expires_at_s=float(fields["expires_at_s"]),
    )
