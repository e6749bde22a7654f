"""The plan's LP as the planner builds it: which hedge the problem asks for."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ems.edge.controllers.optimizer import OptimizerParams
from ems.edge.controllers.optimizer.planner import PlanInputs, build_problem
from ems.optimize import solve_dispatch
from ems.tariff import Tariff


def tariff(demand_charge_per_kw_month: float) -> Tariff:
    # The first quarter hour is cheap: charging it full pays in energy, so without the
    # cap the hedge charges 4 kW (the peak terms tie at 0.5 · 4 + 0.5 · 4 = 0.5 · 2 + 0.5 · 6).
    return Tariff(
        currency="EUR",
        import_price_per_kwh=lambda t: 0.1 if t < 900.0 else 0.4,
        export_price_per_kwh=lambda _t: 0.0,
        demand_charge_per_kw_month=demand_charge_per_kw_month,
        timezone=ZoneInfo("UTC"),
    )


def inputs(margin_w: list[float] | None) -> PlanInputs:
    # Two quarter hours: nothing now, 4 kW next; the high scenario adds 4 kW to it.
    return PlanInputs(
        start_s=0.0,
        load_w=np.array([0.0, 4000.0]),
        pv_w=np.zeros(2),
        live_net_w=0.0,
        soc_pct=0.0,
        max_charge_w=4000.0,
        max_discharge_w=4000.0,
        month_peak_w=0.0,
        margin_w=None if margin_w is None else np.array(margin_w),
    )


def params(**kw: object) -> OptimizerParams:
    values: dict[str, object] = {"capacity_wh": 1000, "efficiency": 1.0, "min_soc_pct": 0.0}
    values.update(kw)
    return OptimizerParams(**values)  # type: ignore[arg-type]


def test_the_hedge_charges_the_grid_only_up_to_the_forecasts_own_peak() -> None:
    problem = build_problem(params(), tariff(10.0), inputs([0.0, 4000.0]), 0.0)
    assert problem.cap_hedge_charging
    plan = solve_dispatch(problem)
    # Alone the forecast plans a 2 kW peak (charge 2 kW, then 4 − 2 kW): the step
    # carried out charges those 2 kW, not the high scenario's 4 kW.
    assert plan.grid_w[0] == pytest.approx(2000.0, abs=1e-3)


def test_without_the_peak_cap_the_hedge_is_free_to_charge_above_it() -> None:
    problem = build_problem(
        params(cap_import_at_peak=False), tariff(10.0), inputs([0.0, 4000.0]), 0.0
    )
    assert not problem.cap_hedge_charging
    assert solve_dispatch(problem).grid_w[0] == pytest.approx(4000.0, abs=1e-3)


def test_the_live_error_carries_into_the_next_steps_and_fades() -> None:
    # Forecast 0 W now and 4 kW next; live 2 kW now: 2 kW more than forecast, carried
    # with a 1 h time constant (4 steps of 15 min) into the next step.
    now = PlanInputs(
        start_s=0.0,
        load_w=np.array([0.0, 4000.0, 4000.0]),
        pv_w=np.zeros(3),
        live_net_w=2000.0,
        soc_pct=0.0,
        max_charge_w=4000.0,
        max_discharge_w=4000.0,
        month_peak_w=0.0,
    )
    net = np.asarray(build_problem(params(), tariff(0.0), now, 0.0).net_load_w)
    assert net == pytest.approx(
        [2000.0, 4000.0 + 2000.0 * np.exp(-0.25), 4000.0 + 2000.0 * np.exp(-0.5)]
    )
    off = np.asarray(build_problem(params(error_carry_h=0.0), tariff(0.0), now, 0.0).net_load_w)
    assert off == pytest.approx([2000.0, 4000.0, 4000.0])


def test_the_scenarios_share_the_steps_until_their_margin_tells_them_apart() -> None:
    # A margin of PV: nothing at night (steps 0–3), 50 W at dawn (below a tenth of the
    # day's largest, 2 kW: noise), 1 kW at step 5. The net load of step 5 is measured
    # during it, so the scenarios share steps 0–5.
    n = 8
    margin = [0.0, 0.0, 0.0, 0.0, 50.0, 1000.0, 2000.0, 500.0]
    night = PlanInputs(
        start_s=0.0,
        load_w=np.full(n, 500.0),
        pv_w=np.zeros(n),
        live_net_w=500.0,
        soc_pct=50.0,
        max_charge_w=4000.0,
        max_discharge_w=4000.0,
        month_peak_w=0.0,
        margin_w=np.array(margin),
    )
    assert build_problem(params(), tariff(10.0), night, 0.0).shared_steps == 6
    # No high scenario (no demand charge's margin), or a margin of nothing: the step
    # carried out only.
    no_margin = replace(night, margin_w=None)
    assert build_problem(params(), tariff(10.0), no_margin, 0.0).shared_steps == 1
    flat = replace(night, margin_w=np.zeros(n))
    assert build_problem(params(), tariff(10.0), flat, 0.0).shared_steps == 1
    # A margin that never rises past the noise: the whole horizon is alike.
    dawn_only = replace(night, margin_w=np.array([0.0] * 7 + [100.0]))
    assert build_problem(params(), tariff(10.0), dawn_only, 0.0).shared_steps == n
