"""Lumped thermal model of a pack: one heat capacity, one conductance to ambient."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["LumpedThermal"]


@dataclass(slots=True)
class LumpedThermal:
    """``C·dT/dt = heat - G·(T - T_ambient)``, solved exactly over a step of constant heat."""

    heat_capacity_j_per_k: float
    conductance_w_per_k: float
    temperature_c: float

    def advance(self, heat_w: float, ambient_c: float, dt_s: float) -> None:
        settle_c = ambient_c + heat_w / self.conductance_w_per_k
        decay = math.exp(-dt_s * self.conductance_w_per_k / self.heat_capacity_j_per_k)
        self.temperature_c = settle_c + (self.temperature_c - settle_c) * decay
