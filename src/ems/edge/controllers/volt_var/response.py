"""A first-order lag driven by the cycle's time, specified by its open-loop response time."""

from __future__ import annotations

import math

__all__ = ["FirstOrderLag"]

# IEEE 1547-2018 defines the open-loop response time as the time to reach 90 %
# of a step change, so the time constant is T / ln(10).
_LN_10 = math.log(10.0)


class FirstOrderLag:
    """``y`` approaches its target with time constant ``response_time_s / ln 10``."""

    def __init__(self, response_time_s: float) -> None:
        self._tau_s = response_time_s / _LN_10
        self.value = 0.0
        self._last_s: float | None = None

    def update(self, target: float, now_s: float) -> float:
        """Move towards ``target`` for the time since the last update (UTC epoch s)."""
        dt_s = 0.0 if self._last_s is None else max(now_s - self._last_s, 0.0)
        self._last_s = now_s
        if self._tau_s <= 0.0:
            self.value = target
        else:
            self.value += (target - self.value) * -math.expm1(-dt_s / self._tau_s)
        return self.value

    def reset(self, value: float = 0.0) -> None:
        """Start again from ``value`` at the next update."""
        self.value = value
        self._last_s = None
