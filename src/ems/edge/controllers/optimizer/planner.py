"""One plan's linear program: the horizon's forecasts, prices and the battery now.

The LP (:func:`ems.optimize.solve_dispatch`) is built from:

* the net load per step, load forecast − PV forecast; step 0 (the one under way)
  takes the live value instead, the best forecast of the next minutes, and its
  error against the forecast carries into the next steps, decaying over
  ``error_carry_h``;
* the tariff's import and export price at each step's start, its demand charge,
  with the month's peak so far as the floor of the first month's peak (import up
  to it is billed already);
* the battery: the live SOC, clamped into the plan's bounds (a battery below its
  minimum must not make every solve infeasible, an EMHASS pitfall), and rated
  powers from the params or, without them, the highest live limits seen;
* with a demand charge, a high scenario, the net load plus the forecast's recent
  error (:mod:`.margin`): the peak the plan pays for must hold in it too, so the
  plan keeps the energy that would take (the cycle's peak cap spends it). Both
  scenarios' batteries act alike until the margin tells them apart (a night before
  a morning that may be grey is one schedule: the charge that morning needs is
  decided in it, not put off by a scenario that knows already which day comes), but
  with ``cap_import_at_peak`` the step carried out never charges from the grid
  above the month's peak so far or the forecast's own planned peak;
* wear per kWh of throughput, and a value of the energy left at the end instead of a
  hard terminal SOC (which can make every solve infeasible): by default the
  horizon's lowest import price × efficiency, the least that energy saves later,
  so the plan neither empties the battery at the end nor hoards for nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from ems.edge.controllers.optimizer.config import OptimizerParams
from ems.optimize import BatteryModel, DispatchProblem
from ems.tariff import Tariff

__all__ = ["REVEAL_SHARE", "PlanInputs", "build_problem", "steps_alike"]

#: The high scenario can be told from the forecast once its margin reaches this share
#: of the horizon's largest: a margin of a few percent is within the noise of a
#: measurement, so it reveals nothing about which scenario is coming.
REVEAL_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What the cycle knows when a plan is asked for (W, %; times UTC epoch s)."""

    start_s: float  # the first step's start
    load_w: np.ndarray  # forecast per step
    pv_w: np.ndarray
    live_net_w: float  # load − PV now
    soc_pct: float
    max_charge_w: float  # the highest live limits seen (the rated power)
    max_discharge_w: float
    month_peak_w: float
    #: Per step, how far the net load may come out above its forecast [W]; ``None``: no
    #: high scenario.
    margin_w: np.ndarray | None = None


def build_problem(
    params: OptimizerParams,
    tariff: Tariff,
    inputs: PlanInputs,
    terminal_value_per_kwh: float | None = None,
) -> DispatchProblem:
    """``terminal_value_per_kwh``: the value of energy left at the end; ``None``: the
    default rule (the module's docstring)."""
    step_s = params.step_min * 60.0
    n = len(inputs.load_w)
    net = _carry_live_error(
        np.asarray(inputs.load_w - inputs.pv_w, dtype=np.float64),
        inputs.live_net_w,
        params.error_carry_h * 3600.0 / step_s,
    )
    times = inputs.start_s + step_s * np.arange(n)
    buy = np.array([tariff.import_price_per_kwh(float(t)) for t in times])
    # The LP refuses export paid above import (it would be unbounded): cap it.
    sell = np.minimum([tariff.export_price_per_kwh(float(t)) for t in times], buy)
    lo, hi = params.min_soc_pct, params.max_soc_pct
    battery = BatteryModel(
        capacity_wh=params.capacity_wh,
        max_charge_power_w=params.max_charge_power_w or max(inputs.max_charge_w, 0.0),
        max_discharge_power_w=params.max_discharge_power_w or max(inputs.max_discharge_w, 0.0),
        efficiency=params.efficiency,
        min_soc_pct=lo,
        max_soc_pct=hi,
        initial_soc_pct=min(max(inputs.soc_pct, lo), hi),
        derate_band_pct=params.derate_band_pct,
        derate_floor=params.derate_floor,
    )
    high = _high(net, inputs.margin_w)
    terminal = terminal_value_per_kwh
    if terminal is None:
        terminal = max(float(buy.min()) * params.efficiency - params.degradation_cost_per_kwh, 0.0)
    return DispatchProblem(
        battery=battery,
        step_s=step_s,
        net_load_w=net,
        import_price_per_kwh=buy,
        export_price_per_kwh=sell,
        demand_charge_per_kw=tariff.demand_charge_per_kw_month,
        period_of_step=_months(times, tariff.timezone),
        degradation_cost_per_kwh=params.degradation_cost_per_kwh,
        terminal_value_per_kwh=terminal,
        peak_floor_w=inputs.month_peak_w,
        high_net_load_w=high,
        shared_steps=steps_alike(net, high),
        # The hedge may keep energy, but charging from the grid above the peak the
        # forecast plans would bill that peak whatever the day brings.
        cap_hedge_charging=params.cap_import_at_peak,
    )


def _carry_live_error(net_w: np.ndarray, live_w: float, carry_steps: float) -> np.ndarray:
    """Step 0 takes the live net load; its error against the forecast carries into the
    next steps, decaying by ``exp(−t / carry_steps)`` (an error persists a while: the sky
    or the load that made it changes over hours, not minutes)."""
    error_w = live_w - float(net_w[0])
    out = np.asarray(net_w, dtype=np.float64).copy()
    if carry_steps > 0:
        out += error_w * np.exp(-np.arange(len(out)) / carry_steps)
    out[0] = live_w
    return out


def _high(net_w: np.ndarray, margin_w: np.ndarray | None) -> np.ndarray | None:
    """The net load plus its margin; step 0 has none: it is the live net load."""
    if margin_w is None:
        return None
    margin = np.clip(np.asarray(margin_w, dtype=np.float64)[: len(net_w)], 0.0, None)
    margin[0] = 0.0
    return np.asarray(net_w + margin, dtype=np.float64)


def steps_alike(net_w: np.ndarray, high_w: np.ndarray | None) -> int:
    """How many first steps the two scenarios share: up to and including the first step
    whose margin reaches ``REVEAL_SHARE`` of the horizon's largest (its net load is
    measured during that step, so only the next one can act on it). At night, with a
    margin made of PV, that is the whole night: a charge for a grey morning has to be
    decided before the morning shows whether it is grey."""
    if high_w is None:
        return 1
    margin = high_w - net_w
    top = float(margin.max(initial=0.0))
    if top <= 0.0:
        return 1
    apart = np.flatnonzero(margin[1:] >= REVEAL_SHARE * top)
    return int(apart[0]) + 2 if len(apart) else len(net_w)


def _months(times_s: np.ndarray, tz: ZoneInfo) -> list[int]:
    months = []
    for t in times_s.tolist():
        local = dt.datetime.fromtimestamp(t, tz)
        months.append(local.year * 12 + local.month)
    return months
