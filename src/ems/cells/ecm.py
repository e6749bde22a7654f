"""A pack of cells in series as an equivalent circuit: OCV(SOC, T) + h - R0·I - v1 - v2.

Each RC pair's voltage relaxes with its time constant toward ``R·I``; over a
step of constant current the exact solution is used (zero-order hold), so a
long step is as accurate as many short ones. ``h`` is the OCV's hysteresis
(Plett's one-state model, see :mod:`ems.cells.chemistry`): it moves toward
``-M`` while discharging and ``+M`` while charging, by how much charge moved.
Resistances rise when cold (Arrhenius) and with ageing (``growth``: 0.1 = 10 %
above new).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ems.cells.chemistry import Chemistry

__all__ = ["EcmState", "PackModel", "arrhenius_factor"]

_GAS_J_PER_MOL_K = 8.314
_REF_K = 298.15


def arrhenius_factor(activation_j_per_mol: float, temperature_c: float) -> float:
    """How much a resistance at ``temperature_c`` exceeds its value at 25 °C."""
    kelvin = temperature_c + 273.15
    return math.exp(activation_j_per_mol / _GAS_J_PER_MOL_K * (1.0 / kelvin - 1.0 / _REF_K))


@dataclass(slots=True)
class EcmState:
    """SOC (fraction of the present capacity), the two RC voltages and the hysteresis [V]."""

    soc: float
    v1_v: float = 0.0
    v2_v: float = 0.0
    h_v: float = 0.0


@dataclass(frozen=True, slots=True)
class PackModel:
    """``series_cells`` cells of ``chem`` in series, of ``capacity_ah`` each (new)."""

    chem: Chemistry
    series_cells: int
    capacity_ah: float

    @property
    def _scale(self) -> float:
        # Pack resistance: cells in series add; a bigger cell has proportionally less.
        return self.series_cells * self.chem.ref_capacity_ah / self.capacity_ah

    def r0_ohm(self, temperature_c: float, growth: float = 0.0) -> float:
        return self._resistance(self.chem.r0_ohm, temperature_c, growth)

    def r1_ohm(self, temperature_c: float, growth: float = 0.0) -> float:
        return self._resistance(self.chem.r1_ohm, temperature_c, growth)

    def r2_ohm(self, temperature_c: float, growth: float = 0.0) -> float:
        return self._resistance(self.chem.r2_ohm, temperature_c, growth)

    def _resistance(self, cell_ohm: float, temperature_c: float, growth: float) -> float:
        factor = arrhenius_factor(self.chem.activation_j_per_mol, temperature_c)
        return cell_ohm * self._scale * factor * (1.0 + growth)

    def ocv_v(self, soc: float, temperature_c: float) -> float:
        return self.series_cells * self.chem.ocv_v(soc, temperature_c)

    def docv_dsoc_v(self, soc: float) -> float:
        return self.series_cells * self.chem.docv_dsoc_v(soc)

    @property
    def hysteresis_v(self) -> float:
        """The hysteresis's bound ``M`` for the pack [V]."""
        return self.series_cells * self.chem.hysteresis_v

    def hysteresis_decay(self, current_a: float, dt_s: float, capacity_ah: float) -> float:
        """How much of the hysteresis is kept over a step carrying ``current_a``."""
        moved = abs(current_a) * dt_s / (3600.0 * capacity_ah)
        return math.exp(-self.chem.hysteresis_rate * moved)

    def terminal_v(
        self, state: EcmState, current_a: float, temperature_c: float, growth: float = 0.0
    ) -> float:
        """Pack terminal voltage [V] carrying ``current_a`` (> 0 discharging)."""
        return (
            self.ocv_v(state.soc, temperature_c)
            - self.r0_ohm(temperature_c, growth) * current_a
            + state.h_v
            - state.v1_v
            - state.v2_v
        )

    def advance(
        self,
        state: EcmState,
        current_a: float,
        dt_s: float,
        temperature_c: float,
        capacity_ah: float,
        growth: float = 0.0,
    ) -> None:
        """Carry ``current_a`` for ``dt_s`` through cells of ``capacity_ah`` (now, aged)."""
        state.soc -= current_a * dt_s / (3600.0 * capacity_ah)
        a1 = math.exp(-dt_s / self.chem.tau1_s)
        a2 = math.exp(-dt_s / self.chem.tau2_s)
        state.v1_v = a1 * state.v1_v + (1.0 - a1) * self.r1_ohm(temperature_c, growth) * current_a
        state.v2_v = a2 * state.v2_v + (1.0 - a2) * self.r2_ohm(temperature_c, growth) * current_a
        if current_a != 0:
            keep = self.hysteresis_decay(current_a, dt_s, capacity_ah)
            target_v = -self.hysteresis_v if current_a > 0 else self.hysteresis_v
            state.h_v = keep * state.h_v + (1.0 - keep) * target_v

    def heat_w(
        self, state: EcmState, current_a: float, temperature_c: float, growth: float = 0.0
    ) -> float:
        """Joule heat [W] in the pack's resistances."""
        heat = self.r0_ohm(temperature_c, growth) * current_a**2
        r1 = self.r1_ohm(temperature_c, growth)
        r2 = self.r2_ohm(temperature_c, growth)
        return heat + state.v1_v**2 / r1 + state.v2_v**2 / r2
