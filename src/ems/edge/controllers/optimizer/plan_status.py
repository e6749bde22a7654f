"""The plan as the cloud sees it: one compact JSON status value per new plan.

``<id>/Plan`` carries, per plan step, the forecast net load, the planned battery
power and SOC, and the saving the plan expects over its horizon against no
battery (energy at the step's prices plus the demand charge above the month's
peak so far), so the dashboard can draw the plan beside the forecast and the
actual without a channel per step. Values are rounded (W to 1 W, SOC to 0.1 %)
to keep a 96-step plan under ~2 kB.
"""

from __future__ import annotations

import json

import numpy as np

from ems.forecast.base import FloatArray
from ems.optimize import DispatchPlan, DispatchProblem

__all__ = ["PLAN_VERSION", "expected_saving", "plan_json"]

#: Bumped when the JSON's fields change meaning (the dashboard checks it).
PLAN_VERSION = 1


def _cost(problem: DispatchProblem, grid_w: FloatArray) -> float:
    """Energy at the step's prices, and the demand charge on each billing period's peak
    above the floor (15-min means where the step is shorter)."""
    step_h = problem.step_s / 3600.0
    buy = np.asarray(problem.import_price_per_kwh, dtype=np.float64)
    sell = np.asarray(problem.export_price_per_kwh, dtype=np.float64)
    energy = float(
        np.sum(buy * grid_w.clip(min=0.0) - sell * (-grid_w).clip(min=0.0)) * step_h / 1000.0
    )
    if problem.demand_charge_per_kw <= 0.0:
        return energy
    per_quarter = max(1, round(900.0 / problem.step_s))
    usable = len(grid_w) // per_quarter * per_quarter
    quarters = grid_w[:usable].reshape(-1, per_quarter).mean(axis=1) if usable else grid_w
    periods = (
        np.zeros(len(quarters), dtype=np.int64)
        if problem.period_of_step is None
        else np.asarray(problem.period_of_step, dtype=np.int64)[::per_quarter][: len(quarters)]
    )
    demand = 0.0
    for k, period in enumerate(dict.fromkeys(periods.tolist())):
        floor_w = problem.peak_floor_w if k == 0 else 0.0
        peak_w = float(quarters[periods == period].max())
        demand += problem.demand_charge_per_kw * max(peak_w - floor_w, 0.0) / 1000.0
    return energy + demand


def expected_saving(problem: DispatchProblem, plan: DispatchPlan) -> float:
    """What the plan saves over its horizon against no battery, if the forecast holds
    [currency]; the energy left in the battery at the end is not counted."""
    net = np.asarray(problem.net_load_w, dtype=np.float64)
    return _cost(problem, net) - _cost(problem, np.asarray(plan.grid_w, dtype=np.float64))


def plan_json(start_s: float, problem: DispatchProblem, plan: DispatchPlan) -> str:
    """The compact JSON of ``<id>/Plan`` (see the module's docstring)."""
    capacity_wh = problem.battery.capacity_wh
    document = {
        "v": PLAN_VERSION,
        "start_s": start_s,
        "step_s": problem.step_s,
        "net_w": np.rint(np.asarray(problem.net_load_w, dtype=np.float64)).astype(int).tolist(),
        "battery_w": np.rint(plan.battery_w).astype(int).tolist(),
        "grid_w": np.rint(plan.grid_w).astype(int).tolist(),
        "soc_pct": np.round(100.0 * plan.energy_wh / capacity_wh, 1).tolist(),
        "peak_w": round(float(np.max(plan.peak_import_w)), 1) if len(plan.peak_import_w) else 0.0,
        "saving": round(expected_saving(problem, plan), 2),
    }
    return json.dumps(document, separators=(",", ":"))
