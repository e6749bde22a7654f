"""The lowest import threshold a battery can hold over a forecast of the net load."""

from __future__ import annotations

import numpy as np

from ems.forecast.base import FloatArray

__all__ = ["lowest_threshold"]


def lowest_threshold(
    forecast_w: FloatArray,
    step_s: float,
    energy_wh: float,
    max_discharge_w: float,
    floor_w: float = 0.0,
) -> float:
    """The lowest ``T >= floor_w`` with ``sum(max(0, f - T)) · step <= energy_wh`` and
    ``max(f) - T <= max_discharge_w``: every step above ``T`` is shaved by the battery.

    Recharging between peaks is not counted on, so the answer errs high (safe); the
    energy needed falls monotonically with ``T``, so a bisection finds it.
    """
    f = np.asarray(forecast_w, dtype=np.float64)
    top_w = float(f.max()) if f.size else 0.0
    low_w = max(floor_w, top_w - max_discharge_w)
    if top_w <= low_w:
        return max(low_w, floor_w)
    hours = step_s / 3600.0

    def need_wh(t_w: float) -> float:
        return float(np.maximum(f - t_w, 0.0).sum()) * hours

    if need_wh(low_w) <= energy_wh:
        return low_w
    high_w = top_w  # needs nothing
    for _ in range(40):  # ~1e-12 of the range: far below a watt
        mid_w = (low_w + high_w) / 2.0
        if need_wh(mid_w) <= energy_wh:
            high_w = mid_w
        else:
            low_w = mid_w
    return high_w
