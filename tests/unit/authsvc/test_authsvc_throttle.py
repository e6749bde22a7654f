"""Brute-force protection on POST /auth/token: failures per address and per username."""

from __future__ import annotations

import pytest

from ems.authsvc.throttle import LoginLimits, LoginThrottle
from ems.ratelimit import LocalLimiter

T0 = 1_767_225_600.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _throttle(clock: Clock) -> LoginThrottle:
    limits = LoginLimits(
        failures_per_min=6, failures_burst=3, user_failures_per_min=2, user_failures_burst=2
    )
    return LoginThrottle(LocalLimiter(), limits, clock)


def test_only_failures_count() -> None:
    throttle = _throttle(Clock())
    for _ in range(50):  # successful logins never fail() the throttle
        assert throttle.check("10.0.0.1", "olga").allowed


def test_per_username_across_addresses() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    throttle.failed("10.0.0.1", "olga")
    throttle.failed("10.0.0.2", "OLGA")  # same account, another address and case
    refused = throttle.check("10.0.0.3", "olga")
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(30.0)  # 2/min: one back after 30 s
    assert throttle.check("10.0.0.3", "vic").allowed  # other users unaffected
    clock.now += 30
    assert throttle.check("10.0.0.3", "olga").allowed


def test_per_address_across_usernames() -> None:
    throttle = _throttle(Clock())
    for name in ("a", "b", "c"):
        throttle.failed("10.0.0.9", name)
    assert not throttle.check("10.0.0.9", "d").allowed
    assert throttle.check("10.0.0.8", "d").allowed
