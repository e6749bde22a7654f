"""The GCRA buckets and the command guard, on the embedded store, a real redis-server and memory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as redis_async

from ems.cloud.shared import reset_embedded_server, shared_redis
from ems.ratelimit import CommandGuard, LocalLimiter, Rate, RedisLimiter, key_part
from ems.ratelimit.redis_script import BUCKET_KEY_MARGIN_MS

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
TEN = Rate(per_s=10, burst=10)


@pytest_asyncio.fixture(params=["embedded", "redis-server"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[redis_async.Redis]:
    if request.param == "embedded":
        reset_embedded_server()
        made = shared_redis(None)
    else:
        made = shared_redis(request.getfixturevalue("redis_url"))
    yield made
    await made.aclose()


def _limiter(client: redis_async.Redis) -> RedisLimiter:
    return RedisLimiter(client, key_prefix=f"t{uuid.uuid4().hex[:12]}")


@pytest.mark.asyncio
async def test_burst_then_refill(client: redis_async.Redis) -> None:
    limiter = _limiter(client)
    allowed = [(await limiter.take("cmd", "alice", TEN, T0)).allowed for _ in range(11)]
    assert allowed == [True] * 10 + [False]
    refused = await limiter.take("cmd", "alice", TEN, T0)
    assert refused.retry_after_s == pytest.approx(0.1, abs=0.002)
    assert (await limiter.take("cmd", "bob", TEN, T0)).allowed  # another user's bucket
    assert not (await limiter.take("cmd", "alice", TEN, T0 + 0.099)).allowed
    assert (await limiter.take("cmd", "alice", TEN, T0 + 0.1)).allowed  # one token back
    assert not (await limiter.take("cmd", "alice", TEN, T0 + 0.1)).allowed
    assert (await limiter.take("cmd", "alice", TEN, T0 + 1.1)).allowed  # full again


@pytest.mark.asyncio
async def test_refusals_do_not_push_the_bucket_further(client: redis_async.Redis) -> None:
    limiter = _limiter(client)
    for _ in range(10):
        await limiter.take("cmd", "alice", TEN, T0)
    for _ in range(100):  # hammering while refused costs nothing later
        assert not (await limiter.take("cmd", "alice", TEN, T0 + 0.05)).allowed
    assert (await limiter.take("cmd", "alice", TEN, T0 + 0.1)).allowed


@pytest.mark.asyncio
async def test_peek_does_not_consume(client: redis_async.Redis) -> None:
    limiter = _limiter(client)
    one = Rate(per_s=1, burst=1)
    for _ in range(5):
        assert (await limiter.take("login", "10.0.0.1", one, T0, consume=False)).allowed
    assert (await limiter.take("login", "10.0.0.1", one, T0)).allowed
    assert not (await limiter.take("login", "10.0.0.1", one, T0, consume=False)).allowed


@pytest.mark.asyncio
async def test_keys_expire_by_themselves(client: redis_async.Redis) -> None:
    limiter = _limiter(client)
    await limiter.take("cmd", "alice", TEN, T0)
    ttl_ms = await client.pttl(limiter.bucket_key("cmd", "alice"))
    # Full again 100 ms later: nothing left to remember once the margin is over.
    # Not before it: Redis counts the expiry on its own clock, and a caller whose
    # clock (or round trip) lags would otherwise find the key gone and get a new
    # burst (this test's frozen T0 is such a caller once the machine is slow).
    assert ttl_ms <= 100 + BUCKET_KEY_MARGIN_MS
    assert ttl_ms > 100 + 5_000  # seconds past the refill


@pytest.mark.asyncio
async def test_processes_share_one_bucket(client: redis_async.Redis) -> None:
    """Two limiters (two cloud processes) on one server, taking at the same time."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    a, b = RedisLimiter(client, prefix), RedisLimiter(client, prefix)
    results = await asyncio.gather(
        *[(a if i % 2 else b).take("cmd", "alice", TEN, T0) for i in range(30)]
    )
    assert sum(d.allowed for d in results) == 10


@pytest.mark.asyncio
async def test_guard_replay_freshness_and_rate(client: redis_async.Redis) -> None:
    limiter = _limiter(client)
    guard = CommandGuard(limiter, Rate(per_s=1, burst=2), replay_ttl_s=60, max_skew_s=60)
    first = str(uuid.uuid4())
    assert await guard.check("alice", first, T0, T0) is None
    replay = await guard.check("alice", first, T0, T0 + 1)
    assert replay is not None and replay.reason == "replay"
    # Over the limit: refused before the id is recorded, so the same id may come again.
    retry = str(uuid.uuid4())
    await guard.check("alice", str(uuid.uuid4()), T0 + 1, T0 + 1)
    limited = await guard.check("alice", retry, T0 + 1, T0 + 1)
    assert limited is not None and limited.reason == "rate_limited"
    assert "retry in 1.000 s" in limited.detail and not limited.burns_id
    assert await guard.check("alice", retry, T0 + 1, T0 + 2) is None
    for skew in (-61.0, 61.0):
        stale = await guard.check("bob", str(uuid.uuid4()), T0 + 100 + skew, T0 + 100)
        assert stale is not None and stale.reason == "stale_timestamp"
        await asyncio.sleep(0)
    assert await guard.check("carol", str(uuid.uuid4()), T0 + 59, T0) is None  # within skew


@pytest.mark.asyncio
async def test_replay_cache_outlives_a_future_stamp(client: redis_async.Redis) -> None:
    limiter = _limiter(client)
    guard = CommandGuard(limiter, TEN, replay_ttl_s=60, max_skew_s=60)
    cid = str(uuid.uuid4())
    assert await guard.check("alice", cid, T0 + 50, T0) is None
    ttl_ms = await client.pttl(limiter.replay_key(cid))
    assert 100_000 < ttl_ms <= 110_000  # until issued_at + 60 s, not now + 60 s


def test_local_limiter_matches() -> None:
    local = LocalLimiter(max_keys=3)
    assert [local.take("e", TEN, T0).allowed for _ in range(11)] == [True] * 10 + [False]
    assert local.take("e", TEN, T0 + 0.1).allowed
    for i in range(10):  # idle keys are forgotten when the table is full
        local.take(f"k{i}", TEN, T0 + 10 + i)
    assert len(local._tat_ms) <= 4


def test_key_part_keeps_keys_tame() -> None:
    assert key_part("alice") == "alice"
    assert key_part("10.0.0.1") == "10.0.0.1"
    for hostile in ("a b", "x" * 1000, "'; DROP TABLE users; --", "../../etc", "a\x00b", "ä"):
        part = key_part(hostile)
        assert part.startswith("h.") and len(part) == 34


def test_rate_is_validated() -> None:
    with pytest.raises(ValueError, match="per_s"):
        Rate(per_s=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        Rate(per_s=1, burst=0)


@pytest.mark.parametrize("store", ["embedded", "redis-server"])
def test_sync_limiter_shares_the_script(request: pytest.FixtureRequest, store: str) -> None:
    """The auth service's blocking client: same buckets, same answers."""
    import fakeredis
    import redis

    from ems.cloud.shared import embedded_server
    from ems.ratelimit import SyncRedisLimiter

    if store == "embedded":
        reset_embedded_server()
        client: redis.Redis = fakeredis.FakeRedis(server=embedded_server())
    else:
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        limiter = SyncRedisLimiter(client, key_prefix=f"t{uuid.uuid4().hex[:12]}")
        one = Rate(per_s=1, burst=2)
        assert limiter.take("login-user:olga", one, T0, consume=False).allowed
        assert limiter.take("login-user:olga", one, T0).allowed
        assert limiter.take("login-user:olga", one, T0).allowed
        refused = limiter.take("login-user:olga", one, T0, consume=False)
        assert not refused.allowed and refused.retry_after_s == pytest.approx(1.0)
        assert limiter.take("login-user:vic", one, T0).allowed
    finally:
        client.close()
