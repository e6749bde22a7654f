"""The plan as the cloud sees it: numeric status channels, hour by hour.

A telemetry value is a number or a short text (256 characters, ``ems.protocol``),
so the plan travels as channels of the controller: ``<id>/PlanStart`` (the plan's
first step, UTC epoch s) and for each hour ``hh`` = 00..23 from there the forecast
net load ``PlanNetLoad<hh>`` [W] and planned battery power ``PlanBatteryPower<hh>``
[W] (hourly means, battery > 0 discharging) and the SOC planned at the hour's end
``PlanSoc<hh>`` [%]. ``expected_saving`` is what the plan saves over its horizon
against no battery (energy at the step's prices plus the demand charge above the
month's peak so far), published as ``<id>/ExpectedSaving``.
"""

from __future__ import annotations

import numpy as np

from ems.forecast.base import FloatArray
from ems.optimize import DispatchPlan, DispatchProblem

__all__ = ["PLAN_HOURS", "PlanValues", "expected_saving", "plan_channels", "plan_units"]

#: Hours of the plan published (the dashboard draws 24 h).
PLAN_HOURS = 24

PlanValues = dict[str, float | None]


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


def plan_channels(start_s: float, problem: DispatchProblem, plan: DispatchPlan) -> PlanValues:
    """The plan's status values by channel name (see the module's docstring); hours the
    horizon does not reach are ``None``."""
    per_hour = max(1, round(3600.0 / problem.step_s))
    net = np.asarray(problem.net_load_w, dtype=np.float64)
    soc = 100.0 * np.asarray(plan.energy_wh, dtype=np.float64) / problem.battery.capacity_wh
    values: PlanValues = {"PlanStart": start_s}
    for h in range(PLAN_HOURS):
        part = slice(h * per_hour, (h + 1) * per_hour)
        whole = (h + 1) * per_hour <= len(net)
        values[f"PlanNetLoad{h:02d}"] = round(float(net[part].mean()), 1) if whole else None
        values[f"PlanBatteryPower{h:02d}"] = (
            round(float(plan.battery_w[part].mean()), 1) if whole else None
        )
        values[f"PlanSoc{h:02d}"] = round(float(soc[part][-1]), 1) if whole else None
    return values


def plan_units() -> dict[str, str | None]:
    """The plan's status channels and their units."""
    units: dict[str, str | None] = {"PlanStart": "s"}
    for h in range(PLAN_HOURS):
        units[f"PlanNetLoad{h:02d}"] = "W"
        units[f"PlanBatteryPower{h:02d}"] = "W"
        units[f"PlanSoc{h:02d}"] = "%"
    return units
