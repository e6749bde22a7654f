"""The BMS's SOC: a coulomb counter over the measured current, which never learns its errors."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CoulombCounter"]


@dataclass(slots=True)
class CoulombCounter:
    """Integrates measured current (A, > 0 discharging) against the nameplate capacity.

    A biased sensor makes it drift by ``bias · t / capacity`` without bound, and it
    keeps counting against the capacity of the new pack however much it faded:
    the errors an estimator has to undo.
    """

    soc_pct: float
    capacity_ah: float

    def count(self, measured_a: float, dt_s: float) -> None:
        self.soc_pct -= 100.0 * measured_a * dt_s / (3600.0 * self.capacity_ah)
        self.soc_pct = min(max(self.soc_pct, 0.0), 100.0)
