"""The ideal greedy self-consumption rule: the reference a self-consumption controller is held to.

Each step the battery covers the whole net demand (load − PV > 0: discharge;
< 0: charge from the surplus), within the rated power, the SOC derating and
the energy left before a bound, with the same efficiency as the simulated
battery (:mod:`ems.optimize.battery`). It knows each step's net demand exactly;
a controller that reads the meter at the start of a step and whose battery
follows at once can match it where the demand holds over the step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ems.optimize.battery import BatteryModel
from ems.optimize.lp import FloatArray

__all__ = ["GreedyRun", "greedy_self_consumption"]


@dataclass(frozen=True, slots=True)
class GreedyRun:
    battery_w: FloatArray  # > 0 discharging
    grid_w: FloatArray  # > 0 import
    energy_wh: FloatArray  # at the end of each step


def greedy_self_consumption(
    battery: BatteryModel,
    net_load_w: Sequence[float] | FloatArray,
    step_s: float,
) -> GreedyRun:
    """Run the rule over ``net_load_w`` (W per step of ``step_s`` seconds)."""
    net = np.asarray(net_load_w, dtype=np.float64)
    dt_h = step_s / 3600.0
    eta = battery.efficiency
    energy = battery.initial_wh
    power = np.zeros(len(net))
    stored = np.zeros(len(net))
    for t, want in enumerate(net.tolist()):
        if want > 0:
            room_w = (energy - battery.min_wh) * eta / dt_h
            p = min(want, battery.discharge_limit_w(energy), room_w)
            energy -= p / eta * dt_h
        elif want < 0:
            room_w = (battery.max_wh - energy) / (eta * dt_h)
            p = -min(-want, battery.charge_limit_w(energy), room_w)
            energy -= p * eta * dt_h
        else:
            p = 0.0
        energy = min(max(energy, battery.min_wh), battery.max_wh)
        power[t] = p
        stored[t] = energy
    return GreedyRun(battery_w=power, grid_w=net - power, energy_wh=stored)
