"""Charge or discharge: a latch that does not flicker under a noisy steady load.

A controller that follows the instantaneous grid power alternates between
charging and discharging whenever the net load hovers around the target
(OpenEMS users report exactly that with a PID). The direction is therefore
decided on the *smoothed* demand (an exponential filter with time constant
``smoothing_s``) and only changes once that is beyond a band of
``deadband_w`` plus three standard deviations of the filtered noise, measured
as it goes. So the band widens with noise by itself, instead of needing a
deadband tuned to one data set, while a real change of the load (kW, not
noise) moves the filter past the band within a fraction of ``smoothing_s``.
"""

from __future__ import annotations

import math
from enum import StrEnum

__all__ = ["Direction", "DirectionLatch"]


class Direction(StrEnum):
    IDLE = "idle"
    CHARGE = "charge"
    DISCHARGE = "discharge"


class DirectionLatch:
    """Feed it the demand on the battery [W, > 0 discharge] every cycle."""

    def __init__(self, deadband_w: float, smoothing_s: float) -> None:
        self._deadband_w = deadband_w
        self._smoothing_s = smoothing_s
        self.direction = Direction.IDLE
        self.mean_w: float | None = None
        self._var_w2 = 0.0
        self.band_w = deadband_w

    def update(self, demand_w: float, dt_s: float) -> Direction:
        if self.mean_w is None:
            self.mean_w = demand_w
        else:
            alpha = 1.0 - math.exp(-max(dt_s, 0.0) / self._smoothing_s)
            residual = demand_w - self.mean_w
            self.mean_w += alpha * residual
            self._var_w2 += alpha * (residual * residual - self._var_w2)
            # Standard deviation of the filter's output for white noise of that variance.
            sd_mean_w = math.sqrt(self._var_w2 * alpha / (2.0 - alpha)) if alpha > 0 else 0.0
            self.band_w = self._deadband_w + 3.0 * sd_mean_w
        if self.mean_w > self.band_w and self.direction is not Direction.DISCHARGE:
            self.direction = Direction.DISCHARGE
        elif self.mean_w < -self.band_w and self.direction is not Direction.CHARGE:
            self.direction = Direction.CHARGE
        return self.direction

    def reset(self) -> None:
        """Forget the filter (after stale inputs: old numbers say nothing about now)."""
        self.mean_w = None
        self._var_w2 = 0.0
        self.band_w = self._deadband_w
