"""Reconnect delays: exponential growth with full jitter.

Full jitter (a delay drawn uniformly from ``[0, ceiling]``) spreads the
reconnects of many edges after a cloud restart over the whole window instead
of letting them arrive in synchronised waves.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays between connection attempts.

    The ceiling of attempt ``n`` (0-based) is ``min(cap_s, base_s * factor**n)``
    seconds; the delay is drawn uniformly from ``[0, ceiling]``. A connection
    that stayed up for at least ``reset_after_s`` seconds starts the sequence
    over, so a link that was healthy for a while reconnects quickly, while one
    that is refused right after connecting (a wrong API key) keeps backing off.
    """

    def __init__(
        self,
        base_s: float = 0.5,
        factor: float = 2.0,
        cap_s: float = 30.0,
        reset_after_s: float = 30.0,
        *,
        rng: random.Random | None = None,
    ) -> None:
        if base_s < 0 or cap_s < 0 or reset_after_s < 0:
            raise ValueError("backoff durations must not be negative")
        if factor < 1:
            raise ValueError("backoff factor must be at least 1")
        self.base_s = base_s
        self.factor = factor
        self.cap_s = cap_s
        self.reset_after_s = reset_after_s
        self._rng = rng or random.Random()
        self._ceiling_s = min(base_s, cap_s)
        self.attempts = 0  # delays handed out since the last reset

    @classmethod
    def immediate(cls) -> Backoff:
        """No delay at all (tests, or a supervisor that paces restarts itself)."""
        return cls(base_s=0.0, cap_s=0.0, reset_after_s=0.0)

    def next_delay(self) -> float:
        """The wait before the next attempt [s]; each call grows the ceiling."""
        delay = self._rng.uniform(0.0, self._ceiling_s) if self._ceiling_s > 0 else 0.0
        # Grow the ceiling rather than computing factor**n: no overflow after
        # thousands of failed attempts during a long outage.
        self._ceiling_s = min(self.cap_s, self._ceiling_s * self.factor)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self._ceiling_s = min(self.base_s, self.cap_s)
        self.attempts = 0

    def connection_ended(self, uptime_s: float) -> None:
        """Tell the backoff how long an authenticated connection lasted [s]."""
        if uptime_s >= self.reset_after_s:
            self.reset()
