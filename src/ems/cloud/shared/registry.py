"""Which cloud process holds which edge, and when each edge was last heard from.

DESIGN section 7: with several cloud processes behind one address, an edge is
connected to one of them; a command accepted anywhere must find that one. The
process that accepts an edge's socket *claims* the edge; while the socket is
open it *refreshes* the claim; when the socket closes it *releases* it. A
claim expires ``ttl_s`` after its last refresh, so a process that dies without
releasing stops being named within ``ttl_s``: until then commands routed to it
end ``failed(edge_timeout)`` through the in-flight watchdog, never silently.

Layout (``P`` is the key prefix, ``E`` an edge id):

- ``P:node-lease:N`` string: the running process's instance token, with a TTL: one
  process at a time may call itself node ``N`` (its delivery lists and claims
  are named after it)
- ``P:edge-owner:E`` string: the node id holding ``E``, with a TTL
- ``P:edge-seen`` hash: edge id -> last heard from [s, Unix epoch]
- ``P:edge-stale`` set: edges whose holder finds them silent for too long
  (meaningful only while the edge has a holder; a new claim clears it)
- ``P:edge-wanted`` sorted set: edge id -> until when [s, Unix epoch] some
  process has a dashboard subscribed to ``E`` without holding ``E`` (so the
  holder publishes its live telemetry; nobody pays for fan-out nobody reads)

A newer connection always wins: :meth:`EdgeRegistry.claim` overwrites and
returns the previous holder, which must close its (older) socket. Release and
refresh only touch a claim this node still holds, so a process whose edge
moved away can never delete or extend the new holder's claim.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as redis_async

__all__ = ["EdgeRegistry"]

# Atomicity: read the previous holder and write the new one in one step, so two
# processes claiming at once each learn exactly whom they replaced.
# A new connection is not stale.
# KEYS: owner key, seen hash, stale set. ARGV: node id, ttl [ms], edge id, now [s].
_CLAIM = """
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('SREM', KEYS[3], ARGV[3])
return old
"""

# Atomicity: only the holder sets an edge's stale flag, so a process whose
# socket of the edge went quiet because the edge moved away cannot flag the
# new holder's live connection.
# KEYS: owner key, stale set. ARGV: node id, edge id, 1 (stale) or 0.
_MARK_STALE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[3] == '1' then
  redis.call('SADD', KEYS[2], ARGV[2])
else
  redis.call('SREM', KEYS[2], ARGV[2])
end
return 1
"""

# Atomicity: compare and extend the node lease (only the instance that holds it).
# KEYS: node key. ARGV: instance token, ttl [ms].
_KEEP_NODE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# Atomicity: compare and delete, so a release never removes another node's claim.
# KEYS: owner key. ARGV: node id.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# Atomicity: compare and extend, per edge. A claim nobody holds (it expired
# while this process was frozen, or Redis lost it in a restart) is taken again:
# this process still holds the socket. Returns the edges another node holds now.
# KEYS: owner keys. ARGV: node id, ttl [ms].
_REFRESH = """
local lost = {}
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if owner == ARGV[1] or not owner then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    lost[#lost + 1] = i
  end
end
return lost
"""


class EdgeRegistry:
    """The edge-to-process registry in Redis for node ``node_id``.

    ``redis`` returns bytes (see :mod:`ems.cloud.shared.connect`).
    """

    def __init__(
        self,
        redis: redis_async.Redis,
        node_id: str,
        *,
        ttl_s: float = 10.0,
        key_prefix: str = "ems",
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, not {ttl_s!r}")
        self.node_id = node_id
        self.ttl_s = ttl_s
        self._redis = redis
        self._prefix = key_prefix
        self._seen_key = f"{key_prefix}:edge-seen"
        self._wanted_key = f"{key_prefix}:edge-wanted"
        self._stale_key = f"{key_prefix}:edge-stale"
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._refresh = redis.register_script(_REFRESH)
        self._keep_node = redis.register_script(_KEEP_NODE)
        self._mark_stale = redis.register_script(_MARK_STALE)

    # -- this process's lease on its node id -----------------------------------------
    async def take_node(self, token: str) -> bool:
        """Lease this node id for the instance ``token``; False while another holds it."""
        taken = await self._redis.set(self._node_key, token, nx=True, px=self._ttl_ms)
        return bool(taken)

    async def keep_node(self, token: str) -> bool:
        """Extend the lease; False when this instance no longer holds it."""
        kept: Any = await self._keep_node(keys=[self._node_key], args=[token, self._ttl_ms])
        return int(kept) == 1

    async def drop_node(self, token: str) -> None:
        """End the lease (a clean stop), so a successor need not wait for it to expire."""
        await self._release(keys=[self._node_key], args=[token])

    @property
    def _node_key(self) -> str:
        return f"{self._prefix}:node-lease:{self.node_id}"

    def _owner_key(self, edge_id: str) -> str:
        return f"{self._prefix}:edge-owner:{edge_id}"

    @property
    def _ttl_ms(self) -> int:
        return max(1, round(self.ttl_s * 1000))

    async def claim(self, edge_id: str, now_s: float) -> str | None:
        """Hold ``edge_id`` from now; returns the node that held it before (maybe this one)."""
        old: Any = await self._claim(
            keys=[self._owner_key(edge_id), self._seen_key, self._stale_key],
            args=[self.node_id, self._ttl_ms, edge_id, repr(now_s)],
        )
        return None if old is None else _text(old)

    async def release(self, edge_id: str) -> bool:
        """Stop holding ``edge_id``; False when another node holds it by now."""
        removed: Any = await self._release(keys=[self._owner_key(edge_id)], args=[self.node_id])
        return int(removed) == 1

    async def refresh(self, seen: Mapping[str, float]) -> list[str]:
        """Extend this node's claims and record when each edge was last heard from.

        ``seen``: edge id -> last heard from [s, Unix epoch], for every edge this
        node believes it holds. A claim that vanished (expired, or lost by Redis)
        is made again. Returns those another node holds now: their sockets here
        are stale and must be closed.
        """
        if not seen:
            return []
        edges = list(seen)
        lost: Any = await self._refresh(
            keys=[self._owner_key(e) for e in edges], args=[self.node_id, self._ttl_ms]
        )
        await self._redis.hset(self._seen_key, mapping={e: repr(t) for e, t in seen.items()})
        return [edges[int(i) - 1] for i in lost]

    async def owner(self, edge_id: str) -> str | None:
        """The node holding ``edge_id`` now, or None (offline everywhere)."""
        raw = await self._redis.get(self._owner_key(edge_id))
        return None if raw is None else _text(raw)

    async def owners(self, edge_ids: Sequence[str]) -> dict[str, str | None]:
        """:meth:`owner` of several edges in one round trip."""
        if not edge_ids:
            return {}
        raw = await self._redis.mget([self._owner_key(e) for e in edge_ids])
        return {e: None if r is None else _text(r) for e, r in zip(edge_ids, raw, strict=True)}

    async def seen_at(self, edge_ids: Sequence[str]) -> dict[str, float]:
        """When each of ``edge_ids`` was last heard from [s, Unix epoch] (absent: never)."""
        if not edge_ids:
            return {}
        raw = await self._redis.hmget(self._seen_key, list(edge_ids))
        return {e: float(t) for e, t in zip(edge_ids, raw, strict=True) if t is not None}

    async def last_seen(self) -> dict[str, float]:
        """Every edge ever heard from -> when last [s, Unix epoch] (as of its holder's
        latest refresh)."""
        raw = await self._redis.hgetall(self._seen_key)
        return {_text(e): float(t) for e, t in raw.items()}

    async def mark_stale(self, edge_id: str, stale: bool) -> bool:
        """Record that the edge held here went silent (or spoke again); False when
        this node does not hold it (then nothing changes)."""
        return (await self.mark_stale_many({edge_id: stale}))[edge_id]

    async def mark_stale_many(self, changes: Mapping[str, bool]) -> dict[str, bool]:
        """:meth:`mark_stale` of many edges in one pipelined round trip (an overloaded
        process may find hundreds silent at once)."""
        if not changes:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for edge_id, stale in changes.items():
            await self._mark_stale(
                keys=[self._owner_key(edge_id), self._stale_key],
                args=[self.node_id, edge_id, "1" if stale else "0"],
                client=pipe,
            )
        done = await pipe.execute()
        return {edge_id: int(d) == 1 for edge_id, d in zip(changes, done, strict=True)}

    async def stale_edges(self) -> set[str]:
        """Edges flagged stale by their holder (look at the owner too: a flag of an
        edge nobody holds means nothing)."""
        return {_text(e) for e in await self._redis.smembers(self._stale_key)}

    # -- live telemetry interest ------------------------------------------------------
    async def want(self, edge_ids: Iterable[str], until_s: float) -> None:
        """Ask the holders of ``edge_ids`` to publish their live telemetry until ``until_s``."""
        wanted = dict.fromkeys(edge_ids, until_s)
        if wanted:
            await self._redis.zadd(self._wanted_key, wanted, gt=True)

    async def wanted(self, now_s: float) -> set[str]:
        """Edges some process wants live telemetry of now (and forget expired wishes)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self._wanted_key, "-inf", f"({now_s!r}")
        pipe.zrange(self._wanted_key, 0, -1)
        _, members = await pipe.execute()
        return {_text(m) for m in members}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
