"""Brute-force protection for ``POST /auth/token``: failed logins per address and per username.

Only failures use tokens, so a user who signs in correctly is never slowed
down; an address or a username out of tokens is answered ``429`` with
``Retry-After`` before the password is even checked (no timing or hashing
cost to an attacker's guesses). Per username as well as per address: an
attacker spreading guesses over many addresses still gets only a few per
account and minute. (That lets someone lock a known username out for a
minute at a time; the account's own password is never at risk.)

The auth service may run inside the cloud or on its own, so it keeps its own
limiter: in Redis when ``EMS_REDIS_URL`` is set (shared by every process of
it), in memory otherwise. Settings (``EMS_LOGIN_*``, read once):
``EMS_LOGIN_FAILURES_PER_MIN`` (10) and ``EMS_LOGIN_FAILURES_BURST`` (10)
per address, ``EMS_LOGIN_USER_FAILURES_PER_MIN`` (5) and
``EMS_LOGIN_USER_FAILURES_BURST`` (5) per username.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ems.ratelimit import Decision, LocalLimiter, Rate

__all__ = ["LoginLimits", "LoginThrottle", "login_throttle"]


class _Limiter(Protocol):
    def take(self, key: str, rate: Rate, now_s: float, *, consume: bool = True) -> Decision: ...


class LoginLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMS_LOGIN_", extra="ignore", frozen=True)

    failures_per_min: float = Field(default=10.0, gt=0)
    failures_burst: int = Field(default=10, ge=1)
    user_failures_per_min: float = Field(default=5.0, gt=0)
    user_failures_burst: int = Field(default=5, ge=1)


class LoginThrottle:
    def __init__(
        self,
        limiter: _Limiter,
        limits: LoginLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limiter = limiter
        self._per_address = Rate(limits.failures_per_min / 60.0, limits.failures_burst)
        self._per_user = Rate(limits.user_failures_per_min / 60.0, limits.user_failures_burst)
        self._clock = clock

    def check(self, address: str, username: str) -> Decision:
        """Whether this attempt may be judged at all (uses no token)."""
        now = self._clock()
        for key, rate in self._keys(address, username):
            decision = self._limiter.take(key, rate, now, consume=False)
            if not decision.allowed:
                return decision
        return Decision(True)

    def failed(self, address: str, username: str) -> None:
        now = self._clock()
        for key, rate in self._keys(address, username):
            self._limiter.take(key, rate, now)

    def _keys(self, address: str, username: str) -> list[tuple[str, Rate]]:
        # Usernames are matched case-insensitively at login, so are their buckets.
        return [
            (f"login-addr:{address}", self._per_address),
            (f"login-user:{username.casefold()}", self._per_user),
        ]


@functools.cache
def login_throttle() -> LoginThrottle:
    """This process's throttle, built from the environment on first use."""
    import os

    url = os.environ.get("EMS_REDIS_URL")
    limiter: _Limiter
    if url:
        import redis

        from ems.ratelimit import SyncRedisLimiter

        limiter = SyncRedisLimiter(redis.Redis.from_url(url))
    else:
        limiter = LocalLimiter()
    return LoginThrottle(limiter, LoginLimits())
