"""The lowest import threshold a battery can hold over a forecast of the net load."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ems.forecast.base import FloatArray

__all__ = ["BatteryNow", "holds", "lowest_threshold"]


@dataclass(frozen=True, slots=True)
class BatteryNow:
    energy_wh: float  # usable energy now (stored, above the floor)
    capacity_wh: float  # usable energy when full
    max_discharge_w: float
    max_charge_w: float
    efficiency: float = 1.0  # each way


def holds(
    forecast_w: FloatArray,
    step_s: float,
    battery: BatteryNow,
    threshold_w: float,
    recharge_share: float,
) -> bool:
    """Whether the peak-shaving rule with ``threshold_w`` keeps every step of the forecast
    at or under it: discharge what a step exceeds it by, recharge while the step is under
    ``recharge_share · threshold_w`` (only up to that level), as the controller does."""
    hours = step_s / 3600.0
    energy_wh = battery.energy_wh
    recharge_w = threshold_w * recharge_share
    for f_w in forecast_w:
        if f_w > threshold_w:
            need_w = f_w - threshold_w
            if need_w > battery.max_discharge_w + 1e-9:
                return False
            energy_wh -= need_w * hours / battery.efficiency
            if energy_wh < -1e-6:
                return False
        elif f_w < recharge_w:
            charge_w = min(recharge_w - f_w, battery.max_charge_w)
            energy_wh = min(energy_wh + charge_w * hours * battery.efficiency, battery.capacity_wh)
    return True


def lowest_threshold(
    forecast_w: FloatArray,
    step_s: float,
    battery: BatteryNow,
    recharge_share: float,
    floor_w: float = 0.0,
) -> float:
    """The lowest threshold ``>= floor_w`` the battery holds over the forecast (:func:`holds`),
    to about a watt. Recharging between peaks counts, as the rule would do it; holding is
    monotonic enough in the threshold for a bisection (a higher one needs less energy)."""
    f = np.asarray(forecast_w, dtype=np.float64)
    top_w = float(f.max()) if f.size else 0.0
    low_w = max(floor_w, top_w - battery.max_discharge_w)
    if top_w <= low_w or holds(f, step_s, battery, low_w, recharge_share):
        return max(low_w, floor_w)
    high_w = top_w  # needs nothing
    while high_w - low_w > 1.0:
        mid_w = (low_w + high_w) / 2.0
        if holds(f, step_s, battery, mid_w, recharge_share):
            high_w = mid_w
        else:
            low_w = mid_w
    return high_w
