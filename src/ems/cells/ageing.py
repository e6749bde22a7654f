"""Capacity fade and resistance growth with time (calendar) and throughput (cycling).

Calendar fade grows with the square root of time and doubles for every 10 K
above 25 °C (an Arrhenius rule of thumb); cycle fade is proportional to the
equivalent full cycles. Resistance grows in proportion to the capacity lost.
``acceleration`` multiplies both, to age a pack years in a simulated month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ems.cells.chemistry import Chemistry

__all__ = ["Ageing"]


@dataclass(slots=True)
class Ageing:
    chem: Chemistry
    acceleration: float = 1.0
    calendar_days: float = 0.0  # temperature-weighted (days at 25 °C)
    throughput_ah: float = 0.0
    capacity_ah: float = 0.0  # nominal (new), set by the owner

    def advance(self, current_a: float, dt_s: float, temperature_c: float) -> None:
        stress = 2.0 ** ((temperature_c - 25.0) / 10.0)
        self.calendar_days += self.acceleration * stress * dt_s / 86_400.0
        self.throughput_ah += self.acceleration * abs(current_a) * dt_s / 3600.0

    @property
    def fade(self) -> float:
        """Fraction of the nominal capacity lost (0 new, 0.2 at 80 % SOH)."""
        efc = self.throughput_ah / (2.0 * self.capacity_ah) if self.capacity_ah > 0 else 0.0
        calendar = self.chem.calendar_fade_per_sqrt_day * math.sqrt(self.calendar_days)
        return min(calendar + self.chem.cycle_fade_per_efc * efc, 0.9)

    @property
    def resistance_growth(self) -> float:
        return self.chem.resistance_growth_per_fade * self.fade

    @property
    def soh_pct(self) -> float:
        """Capacity now as a percentage of new."""
        return 100.0 * (1.0 - self.fade)
