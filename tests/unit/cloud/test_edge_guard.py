"""Failed edge logins per address (shared, in Redis) and acks per edge (this process)."""

from __future__ import annotations

import pytest

from ems.cloud.edge_guard import EdgeGuard
from ems.cloud.shared import reset_embedded_server, shared_redis
from ems.ratelimit import Rate, RedisLimiter

T0 = 1_767_225_600.0


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


@pytest.mark.asyncio
async def test_failed_logins_per_address_and_acks_per_edge() -> None:
    reset_embedded_server()
    redis = shared_redis(None)
    clock = Clock()
    guard = EdgeGuard(
        RedisLimiter(redis), Rate(per_s=1 / 60, burst=3), Rate(per_s=100, burst=100), clock
    )
    try:
        for _ in range(10):  # looking uses nothing: good logins are never limited
            assert (await guard.login_allowed("10.0.0.1")).allowed
        for _ in range(3):
            await guard.login_failed("10.0.0.1")
        refused = await guard.login_allowed("10.0.0.1")
        assert not refused.allowed and refused.retry_after_header == "60"
        assert guard.logins_refused == 1
        assert (await guard.login_allowed("10.0.0.2")).allowed
        clock.now += 60
        assert (await guard.login_allowed("10.0.0.1")).allowed

        assert [guard.ack_wait_s("site-1") for _ in range(100)] == [0.0] * 100
        assert guard.ack_wait_s("site-1") == pytest.approx(0.01)
        assert guard.ack_wait_s("site-2") == 0.0  # per edge
        clock.now += 0.01
        assert guard.ack_wait_s("site-1") == 0.0
    finally:
        await redis.aclose()
        reset_embedded_server()
