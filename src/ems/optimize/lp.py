"""Perfect-foresight battery dispatch as a linear program, solved with HiGHS.

Given the site's net demand (load − PV) per step, the import and export price
per step and a demand charge, find the battery power per step that minimises
the bill: energy bought at its price, minus energy sold at its price, plus the
demand charge on each billing period's highest 15-min mean import. Power is
constant within a step; a step is ``step_s`` long and must divide a quarter
hour, and the horizon starts on a quarter hour, so quarter hours are
consecutive groups of steps.

Variables per step ``t`` (W): charge ``c`` >= 0 and discharge ``d`` >= 0 of the
battery (AC side), grid import ``i`` >= 0 and export ``x`` >= 0, and the stored
energy ``e`` (Wh) at the end of the step; one peak ``p`` (W) per billing period.

- balance: ``i − x = net + c − d``
- energy: ``e[t] = e[t−1] + (η·c − d/η)·Δt``, ``e[−1]`` the initial energy,
  ``min_wh <= e <= max_wh``, and at the end ``e >= terminal_min_wh`` if given
- power: ``c``, ``d`` within the rated limits and the SOC derating, which is
  linear in the energy at the start of the step (:mod:`ems.optimize.battery`)
- demand (epigraph): ``mean of i over each quarter hour <= p[its period]``
- optionally a second scenario, a higher net load with its own c, d, i, x, e and
  peaks under the same constraints and the same first ``shared_steps`` steps; the cost
  is then the two scenarios' costs weighed by ``1 − high_weight`` and ``high_weight``
- with ``cap_hedge_charging`` and a demand charge, the first step's import is at most
  the billed peak so far or the peak the net load alone plans (a solve of its own),
  whichever is higher: charging is discretionary, so the high scenario may move energy
  but never make a peak that is billed whichever scenario comes
- cost: ``Σ (i·import_price − x·export_price)·Δt/1000 + Σ p·demand_charge/1000``,
  plus ``Σ (c + d)·Δt/1000·degradation_cost`` and minus ``e[end]/1000·terminal_value``
- with ``last_peak_levels`` the last period's peak is billed in expectation instead: a
  period that goes on past the horizon bills the higher of its peak here and the peak
  of its days still to come, so its charge is ``Σ share·max(0, p − level)`` (one excess
  column ``s >= p − level``, ``s >= 0`` per level and scenario)

Charging and discharging at once only loses energy (η < 1), so the optimum
does not, unless a negative price makes wasting energy pay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ems.optimize.battery import BatteryModel

if TYPE_CHECKING:
    from scipy import sparse

__all__ = [
    "DEMAND_INTERVAL_S",
    "DispatchPlan",
    "DispatchProblem",
    "OptimizeError",
    "solve_dispatch",
]

DEMAND_INTERVAL_S = 900.0
_WH_PER_KWH = 1000.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class OptimizeError(Exception):
    """The problem is malformed, or HiGHS found no optimum (infeasible, unbounded, failed)."""


@dataclass(frozen=True, slots=True)
class DispatchProblem:
    """One horizon: arrays of equal length, one value per step."""

    battery: BatteryModel
    step_s: float
    net_load_w: Sequence[float] | FloatArray  # load − PV, > 0 needs import
    import_price_per_kwh: Sequence[float] | FloatArray
    export_price_per_kwh: Sequence[float] | FloatArray
    demand_charge_per_kw: float = 0.0  # per kW of each billing period's peak
    #: Billing period of each step (e.g. its local month), non-decreasing; ``None``: one period.
    period_of_step: Sequence[int] | IntArray | None = None
    #: The stored energy must end at least this high (Wh); ``None``: free.
    terminal_min_wh: float | None = None
    #: Cost of each kWh charged plus each kWh discharged (AC side): the battery's wear.
    degradation_cost_per_kwh: float = 0.0
    #: What each kWh stored at the horizon's end is worth (a soft terminal condition:
    #: unlike ``terminal_min_wh`` it can never make the problem infeasible).
    terminal_value_per_kwh: float = 0.0
    #: The first billing period's peak is at least this (W): the month's peak so far,
    #: already billed, so import up to it costs no demand charge.
    peak_floor_w: float = 0.0
    #: A second scenario, a higher net load (W per step; an MPC's forecast plus its
    #: error), with a battery schedule of its own that starts with the same first step:
    #: the objective is the two scenarios' costs (energy and peaks) weighed by
    #: ``1 − high_weight`` and ``high_weight``, so the plan keeps energy for the peak
    #: the high load would make. ``None``: the net load alone.
    high_net_load_w: Sequence[float] | FloatArray | None = None
    high_weight: float = 0.5
    #: With a high scenario and a demand charge: the first step (the one carried out)
    #: imports at most ``max(peak_floor_w, the net load alone's planned peak)`` unless its
    #: net load alone needs more, so the hedge never charges from the grid above the
    #: peak the forecast plans; such a charge sets the billed peak in every outcome,
    #: for a high load that may not come.
    cap_hedge_charging: bool = False
    #: With a high scenario: how many first steps the two scenarios' batteries share (at
    #: least 1, the step carried out). Nothing measured tells the scenarios apart before
    #: their net loads differ, so a schedule of its own before then would act on
    #: knowledge no re-plan will have: the high scenario would charge at night for a
    #: grey morning, the shared first step would not, and every re-plan would defer
    #: that charge again until the morning came with the battery short.
    shared_steps: int = 1
    #: The last billing period goes on past the horizon, and its days still to come will
    #: make a peak of their own, ``Q``, not known yet: the period bills ``max(p, Q)``.
    #: Pairs (level W, probability that ``Q`` is at that level), the probabilities summing
    #: to 1: the last period's demand charge is then ``Σ share × max(0, p − level)``, its
    #: expected charge less what ``Q`` bills anyway (a constant), so lowering ``p`` at a
    #: level saves only as often as ``Q`` is below it. ``None``: ``p`` is billed whole.
    last_peak_levels: Sequence[tuple[float, float]] | None = None


@dataclass(frozen=True, slots=True)
class DispatchPlan:
    """The optimum: powers in W per step (battery > 0 discharging), energy in Wh."""

    battery_w: FloatArray
    charge_w: FloatArray
    discharge_w: FloatArray
    grid_w: FloatArray  # > 0 import
    energy_wh: FloatArray  # at the end of each step
    peak_import_w: FloatArray  # per billing period, the demand charge's base
    #: The objective, in the tariff's currency: energy cost − export revenue + demand
    #: charges (+ wear − the terminal energy's value, where the problem sets them).
    cost: float


def solve_dispatch(problem: DispatchProblem) -> DispatchPlan:
    """Solve ``problem`` with HiGHS; raises :class:`OptimizeError` when it has no optimum."""
    net = np.asarray(problem.net_load_w, dtype=np.float64)
    buy = np.asarray(problem.import_price_per_kwh, dtype=np.float64)
    sell = np.asarray(problem.export_price_per_kwh, dtype=np.float64)
    n = len(net)
    periods, n_periods = _periods(problem.period_of_step, n)
    per_quarter = _steps_per_quarter(problem.step_s)
    _check(problem, net, buy, sell)

    bat = problem.battery
    dt_h = problem.step_s / 3600.0
    eta = bat.efficiency
    # Per scenario a column block of c, d, i, x, e (n each); then one peak per period,
    # shared. Scenario 0 is the net load (it is what the plan is and what it costs),
    # scenario 1 the high net load (only its constraints count).
    nets = [net] if problem.high_net_load_w is None else [net, _high(problem, net)]
    width = 5 * n
    weights = [1.0] if len(nets) == 1 else [1.0 - problem.high_weight, problem.high_weight]
    p0 = len(nets) * width  # then n_periods peaks per scenario
    levels = _levels(problem)
    s0 = p0 + len(nets) * n_periods  # then, per scenario, the last peak's excess over each level
    n_cols = s0 + len(nets) * len(levels)
    c0, d0, i0, x0, e0 = 0, n, 2 * n, 3 * n, 4 * n
    steps = np.arange(n)

    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    lower: list[FloatArray] = []
    upper: list[FloatArray] = []
    n_rows = 0

    def add(row: IntArray, col: IntArray, val: float | FloatArray) -> None:
        rows.append(row)
        cols.append(col)
        vals.append(np.broadcast_to(np.asarray(val, dtype=np.float64), row.shape).copy())

    for scenario, scenario_net in enumerate(nets):
        base = scenario * width
        cb, db, ib, xb, eb = base + c0, base + d0, base + i0, base + x0, base + e0

        # balance: i − x − c + d = net
        r = n_rows + steps
        for block, sign in ((ib, 1.0), (xb, -1.0), (cb, -1.0), (db, 1.0)):
            add(r, block + steps, sign)
        lower.append(scenario_net)
        upper.append(scenario_net)
        n_rows += n

        # energy: e[t] − e[t−1] − η·Δt·c + Δt/η·d = 0 (e[−1], known, moves to the right)
        r = n_rows + steps
        add(r, eb + steps, 1.0)
        add(r[1:], eb + steps[:-1], -1.0)
        add(r, cb + steps, -eta * dt_h)
        add(r, db + steps, dt_h / eta)
        start = np.zeros(n)
        start[0] = bat.initial_wh
        lower.append(start)
        upper.append(start)
        n_rows += n

        # derating: c <= Pc·(f + (1−f)·(max − e_start)/band),
        #           d <= Pd·(f + (1−f)·(e_start − min)/band)
        band = bat.derate_band_wh
        if band > 0 and bat.derate_floor < 1:
            slope = (1.0 - bat.derate_floor) / band
            for block, rated, sign, offset in (
                (cb, bat.max_charge_power_w, 1.0, bat.derate_floor + slope * bat.max_wh),
                (db, bat.max_discharge_power_w, -1.0, bat.derate_floor - slope * bat.min_wh),
            ):
                r = n_rows + steps
                add(r, block + steps, 1.0)
                add(r[1:], eb + steps[:-1], sign * rated * slope)
                rhs = np.full(n, rated * offset)
                rhs[0] -= sign * rated * slope * bat.initial_wh
                lower.append(np.full(n, -np.inf))
                upper.append(rhs)
                n_rows += n

        # demand: Σ i over a quarter hour / steps per quarter − p[period] <= 0
        if problem.demand_charge_per_kw > 0:
            quarter = steps // per_quarter
            n_quarters = int(quarter[-1]) + 1
            add(n_rows + quarter, ib + steps, 1.0 / per_quarter)
            first_steps = np.arange(n_quarters) * per_quarter
            peaks = p0 + scenario * n_periods
            add(n_rows + np.arange(n_quarters), peaks + periods[first_steps], -1.0)
            lower.append(np.full(n_quarters, -np.inf))
            upper.append(np.zeros(n_quarters))
            n_rows += n_quarters

        if len(levels):
            # excess over each level: s_k − p[last period] >= −level_k
            r = n_rows + np.arange(len(levels))
            add(r, s0 + scenario * len(levels) + np.arange(len(levels)), 1.0)
            add(r, np.full(len(levels), p0 + (scenario + 1) * n_periods - 1), -1.0)
            lower.append(-levels[:, 0])
            upper.append(np.full(len(levels), np.inf))
            n_rows += len(levels)

        if scenario > 0:
            # Both scenarios start alike: the first step is the one carried out, and the
            # ones after it until the scenarios can be told apart.
            shared = np.arange(min(problem.shared_steps, n))
            for block in (c0, d0):
                add(n_rows + shared, block + shared, 1.0)
                add(n_rows + shared, base + block + shared, -1.0)
                lower.append(np.zeros(len(shared)))
                upper.append(np.zeros(len(shared)))
                n_rows += len(shared)

    to_kwh = dt_h / _WH_PER_KWH
    cost = np.zeros(n_cols)
    for scenario, weight in enumerate(weights):
        base, peaks = scenario * width, p0 + scenario * n_periods
        cost[base + i0 : base + i0 + n] = weight * buy * to_kwh
        cost[base + x0 : base + x0 + n] = -weight * sell * to_kwh
        cost[peaks : peaks + n_periods] = weight * problem.demand_charge_per_kw / _WH_PER_KWH
        if len(levels):
            # the last period's peak is billed through its excesses over the levels
            cost[peaks + n_periods - 1] = 0.0
            first = s0 + scenario * len(levels)
            cost[first : first + len(levels)] = (
                weight * problem.demand_charge_per_kw * levels[:, 1] / _WH_PER_KWH
            )
        cost[base + c0 : base + d0 + n] = weight * problem.degradation_cost_per_kwh * to_kwh
        cost[base + e0 + n - 1] = -weight * problem.terminal_value_per_kwh / _WH_PER_KWH

    col_lower = np.zeros(n_cols)
    col_upper = np.full(n_cols, np.inf)
    for base in range(0, p0, width):
        col_upper[base + c0 : base + c0 + n] = bat.max_charge_power_w
        col_upper[base + d0 : base + d0 + n] = bat.max_discharge_power_w
        col_lower[base + e0 : base + e0 + n] = bat.min_wh
        col_upper[base + e0 : base + e0 + n] = bat.max_wh
    if n_periods and problem.demand_charge_per_kw > 0:
        for scenario in range(len(nets)):
            col_lower[p0 + scenario * n_periods] = max(problem.peak_floor_w, 0.0)
    if problem.cap_hedge_charging and len(nets) > 1 and problem.demand_charge_per_kw > 0:
        col_upper[i0] = max(_base_peak_w(problem), float(net[0]), 0.0)
    if problem.terminal_min_wh is not None:
        col_lower[e0 + n - 1] = min(max(problem.terminal_min_wh, bat.min_wh), bat.max_wh)

    # Imported here, not with the module: scipy.sparse and HiGHS weigh about 28 MB, and
    # every edge imports this module (the controller registry) to solve nothing.
    from scipy import sparse

    matrix = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_cols),
    )
    x = _run_highs(matrix, cost, col_lower, col_upper, np.concatenate(lower), np.concatenate(upper))
    charge, discharge = x[c0 : c0 + n], x[d0 : d0 + n]
    return DispatchPlan(
        battery_w=discharge - charge,
        charge_w=charge,
        discharge_w=discharge,
        grid_w=x[i0 : i0 + n] - x[x0 : x0 + n],
        energy_wh=x[e0 : e0 + n],
        peak_import_w=x[p0 : p0 + n_periods],
        cost=float(cost @ x),
    )


def _base_peak_w(problem: DispatchProblem) -> float:
    """The first period's peak the net load alone plans (at least the billed floor)."""
    alone = solve_dispatch(replace(problem, high_net_load_w=None, cap_hedge_charging=False))
    return max(float(alone.peak_import_w[0]), problem.peak_floor_w)


def _levels(problem: DispatchProblem) -> FloatArray:
    """``last_peak_levels`` as rows (level W, share); none without a demand charge."""
    if problem.last_peak_levels is None or problem.demand_charge_per_kw <= 0:
        return np.zeros((0, 2))
    return np.asarray(problem.last_peak_levels, dtype=np.float64).reshape(-1, 2)


def _high(problem: DispatchProblem, net: FloatArray) -> FloatArray:
    """The high scenario's net load, never below the net load itself."""
    assert problem.high_net_load_w is not None
    return np.maximum(np.asarray(problem.high_net_load_w, dtype=np.float64), net)


def _periods(period_of_step: Sequence[int] | IntArray | None, n: int) -> tuple[IntArray, int]:
    """Billing periods renumbered 0, 1, … in order of appearance."""
    if period_of_step is None:
        return np.zeros(n, dtype=np.int64), 1
    raw = np.asarray(period_of_step, dtype=np.int64)
    if len(raw) != n:
        raise OptimizeError("period_of_step must have one entry per step")
    if n and np.any(np.diff(raw) < 0):
        raise OptimizeError("period_of_step must not decrease")
    _, periods = np.unique(raw, return_inverse=True)
    return periods.astype(np.int64), int(periods.max()) + 1 if n else 0


def _steps_per_quarter(step_s: float) -> int:
    per_quarter = DEMAND_INTERVAL_S / step_s
    if step_s <= 0 or abs(per_quarter - round(per_quarter)) > 1e-9:
        raise OptimizeError(f"step_s {step_s} must divide the {DEMAND_INTERVAL_S:.0f} s quarter")
    return round(per_quarter)


def _check(problem: DispatchProblem, net: FloatArray, buy: FloatArray, sell: FloatArray) -> None:
    n = len(net)
    if n == 0:
        raise OptimizeError("the horizon has no steps")
    if len(buy) != n or len(sell) != n:
        raise OptimizeError("prices must have one entry per step")
    if not (np.all(np.isfinite(net)) and np.all(np.isfinite(buy)) and np.all(np.isfinite(sell))):
        raise OptimizeError("net load and prices must be finite")
    # Selling above the buying price would pay for importing and exporting at once, without end.
    if np.any(sell > buy):
        raise OptimizeError("the export price must not exceed the import price at any step")
    if problem.demand_charge_per_kw < 0:
        raise OptimizeError("demand_charge_per_kw must not be negative")
    if problem.high_net_load_w is not None:
        high = np.asarray(problem.high_net_load_w, dtype=np.float64)
        if len(high) != n or not np.all(np.isfinite(high)):
            raise OptimizeError("high_net_load_w must have one finite value per step")
        if not 0.0 <= problem.high_weight < 1.0:
            raise OptimizeError("high_weight must be within [0, 1)")
    if problem.last_peak_levels is not None:
        levels = np.asarray(problem.last_peak_levels, dtype=np.float64)
        if (
            levels.ndim != 2
            or levels.shape[1:] != (2,)
            or not len(levels)
            or not np.all(np.isfinite(levels))
            or np.any(levels < 0)
            or abs(float(levels[:, 1].sum()) - 1.0) > 1e-6
        ):
            raise OptimizeError(
                "last_peak_levels must be (level >= 0, share >= 0) pairs, the shares summing to 1"
            )
    if problem.shared_steps < 1:
        raise OptimizeError("shared_steps must be at least 1 (the step carried out)")
    if problem.degradation_cost_per_kwh < 0 or problem.terminal_value_per_kwh < 0:
        raise OptimizeError(
            "degradation_cost_per_kwh and terminal_value_per_kwh must not be negative"
        )


def _run_highs(
    matrix: sparse.csc_matrix,
    cost: FloatArray,
    col_lower: FloatArray,
    col_upper: FloatArray,
    row_lower: FloatArray,
    row_upper: FloatArray,
) -> FloatArray:
    import highspy  # see solve_dispatch: only where plans are solved

    lp = highspy.HighsLp()
    lp.num_col_ = matrix.shape[1]
    lp.num_row_ = matrix.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = col_lower
    lp.col_upper_ = col_upper
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    highs = highspy.Highs()  # type: ignore[no-untyped-call]  # its stub leaves __init__ untyped
    highs.setOptionValue("output_flag", False)
    highs.passModel(lp)
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise OptimizeError(f"HiGHS: {highs.modelStatusToString(status)}")
    return np.asarray(highs.getSolution().col_value, dtype=np.float64)
