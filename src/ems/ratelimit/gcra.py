"""The token bucket as GCRA: one stored number per key, in memory or (see redis_script) in Redis.

A bucket of ``burst`` tokens refilled at ``per_s`` tokens/s is the same as
remembering one time per key, the *theoretical arrival time* (TAT): each
request pushes it ``1/per_s`` s further; a request is allowed while the TAT
it would set is at most ``burst/per_s`` s ahead of now. Nothing to refill on
a timer, nothing to clean up but keys whose TAT passed.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from dataclasses import dataclass

__all__ = ["Decision", "LocalLimiter", "Rate", "key_part"]

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_s`` tokens/s refill, at most ``burst`` tokens saved up."""

    per_s: float
    burst: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.per_s) and self.per_s > 0):
            raise ValueError(f"per_s must be a positive number, not {self.per_s!r}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, not {self.burst!r}")

    @property
    def interval_ms(self) -> float:
        """Time one token takes to come back [ms]."""
        return 1000.0 / self.per_s

    def describe(self, what: str) -> str:
        return f"{self.per_s:g} {what}/s (burst {self.burst})"


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed, or refused until ``retry_after_s`` [s] from now."""

    allowed: bool
    retry_after_s: float = 0.0

    @property
    def retry_after_header(self) -> str:
        """For HTTP ``Retry-After``: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after_s)))


ALLOWED = Decision(True)


def key_part(text: str) -> str:
    """``text`` as it may appear inside a Redis key: kept when plainly safe, else its
    SHA-256 (so a user-chosen name cannot shape keys or make them huge)."""
    if _SAFE_KEY.match(text):
        return text
    return "h." + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class LocalLimiter:
    """GCRA buckets in this process's memory (thread-safe), keyed by any string.

    Keys whose bucket is full again are forgotten when the table grows past
    ``max_keys``, so many one-off addresses cannot grow it without bound.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self._tat_ms: dict[str, float] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def take(self, key: str, rate: Rate, now_s: float, *, consume: bool = True) -> Decision:
        """Take one token from ``key``'s bucket (or only look, ``consume=False``)."""
        now_ms = now_s * 1000.0
        with self._lock:
            tat = max(self._tat_ms.get(key, now_ms), now_ms)
            new_tat = tat + rate.interval_ms
            allow_at = new_tat - rate.interval_ms * rate.burst
            if allow_at > now_ms:
                return Decision(False, (allow_at - now_ms) / 1000.0)
            if consume:
                self._tat_ms[key] = new_tat
                if len(self._tat_ms) > self._max_keys:
                    self._forget_idle(now_ms)
            return ALLOWED

    def _forget_idle(self, now_ms: float) -> None:
        for key in [k for k, tat in self._tat_ms.items() if tat <= now_ms]:
            del self._tat_ms[key]
