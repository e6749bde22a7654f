"""The plan as compact JSON-able data: what an HA pair replicates and a restart keeps.

A new leader (or an edge restarted) has no plan of its own until its first
solve completes, and its forecasters may have little history to solve from.
It follows the plan the controller held before, handed over as its durable
state: the first step's start, the step, and per step the grid target the
cycle holds [W, > 0 import], the battery power [W, > 0 discharging] and the
SOC target at the step's end [%]; plus the peak the plan pays for [W].

Bounded to :data:`MAX_STEPS` steps and rounded (1 W, 0.1 %), so it stays a few
kilobytes whatever the horizon: a taken-over plan is needed only until the
next solve, seconds to minutes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ems.optimize import DispatchPlan

__all__ = ["MAX_STEPS", "plan_from_state", "plan_to_state"]

#: Steps carried (a day of 15-min steps).
MAX_STEPS = 96


def plan_to_state(
    start_s: float, step_s: float, plan: DispatchPlan, capacity_wh: float
) -> dict[str, Any]:
    """``plan`` (its first step starting at ``start_s``, UTC epoch s) as JSON-able data."""
    n = min(len(plan.grid_w), MAX_STEPS)
    peak = plan.peak_import_w
    return {
        "start_s": start_s,
        "step_s": step_s,
        "grid_w": [round(float(v)) for v in plan.grid_w[:n]],
        "battery_w": [round(float(v)) for v in plan.battery_w[:n]],
        "soc_pct": [round(100.0 * float(v) / capacity_wh, 1) for v in plan.energy_wh[:n]],
        "peak_w": round(float(peak[0])) if len(peak) else 0.0,
    }


def plan_from_state(
    state: Mapping[str, Any], step_s: float, capacity_wh: float
) -> tuple[float, DispatchPlan] | None:
    """The plan back (start, plan), or ``None`` when ``state`` is not one (another step
    length, a torn or foreign value): the controller then waits for its own solve."""
    try:
        start_s = float(state["start_s"])
        if float(state["step_s"]) != step_s or not math.isfinite(start_s):
            return None
        grid = np.asarray(state["grid_w"], dtype=np.float64)
        battery = np.asarray(state["battery_w"], dtype=np.float64)
        soc = np.asarray(state["soc_pct"], dtype=np.float64)
        peak_w = float(state["peak_w"])
    except (KeyError, TypeError, ValueError):
        return None
    n = len(grid)
    if not 0 < n <= MAX_STEPS or grid.ndim != 1 or battery.shape != (n,) or soc.shape != (n,):
        return None
    if not (np.isfinite(grid).all() and np.isfinite(battery).all() and np.isfinite(soc).all()):
        return None
    plan = DispatchPlan(
        battery_w=battery,
        charge_w=np.clip(-battery, 0.0, None),
        discharge_w=np.clip(battery, 0.0, None),
        grid_w=grid,
        energy_wh=soc * capacity_wh / 100.0,
        peak_import_w=np.asarray([peak_w], dtype=np.float64),
        cost=math.nan,  # not carried: nothing reads a taken-over plan's cost
    )
    return start_s, plan
