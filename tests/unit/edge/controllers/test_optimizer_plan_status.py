"""The optimiser publishes its plan hour by hour (``<id>/PlanSoc<hh>`` ...) and what it
expects to save, so the cloud can draw the plan beside the forecast and the actual."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_optimizer import Loop, optimizer

from ems.edge.controllers.optimizer.plan_status import PLAN_HOURS, expected_saving
from ems.optimize import BatteryModel, DispatchPlan, DispatchProblem


def test_each_plan_is_published_hour_by_hour_with_its_saving(tmp_path: Path) -> None:
    # A day's horizon: longer, the dear hours of the next day tie with today's and the
    # discharge's timing is the solver's choice.
    ctrl = optimizer(tmp_path, horizon_h=24)
    loop = Loop(ctrl)
    loop.step()
    assert ctrl.plan is not None
    start_s, plan = ctrl.plan
    assert loop.out("opt/PlanStart") == start_s
    # The cheap night's charge (06:00-08:00 at 4 kW), then the dear day's discharge.
    assert loop.out("opt/PlanBatteryPower00") == pytest.approx(-4000.0)
    assert loop.out("opt/PlanBatteryPower01") == pytest.approx(-4000.0)
    assert loop.out("opt/PlanSoc01") == pytest.approx(100.0)
    assert loop.out("opt/PlanNetLoad05") == pytest.approx(1000.0)
    discharged_wh = sum(float(loop.out(f"opt/PlanBatteryPower{h:02d}")) for h in range(2, 24))
    assert discharged_wh == pytest.approx(10_000.0, abs=1.0)
    # 8 kWh bought at 0.10 replace 10 kWh at 0.40 (efficiency 1 in these tests).
    assert loop.out("opt/ExpectedSaving") == pytest.approx(3.2, abs=0.01)
    assert loop.out("opt/PlannedSoc") == pytest.approx(100.0 * plan.energy_wh[0] / 10_000, abs=0.1)
    assert PLAN_HOURS == 24


def test_hours_beyond_the_horizon_are_published_as_missing(tmp_path: Path) -> None:
    ctrl = optimizer(tmp_path, horizon_h=6)
    loop = Loop(ctrl)
    loop.step()
    assert loop.out("opt/PlanSoc05") is not None
    assert loop.out("opt/PlanSoc06") is None
    assert loop.out("opt/PlanBatteryPower23") is None


def test_the_expected_saving_counts_the_demand_charge_above_the_months_peak() -> None:
    battery = BatteryModel(
        capacity_wh=10_000,
        max_charge_power_w=5000,
        max_discharge_power_w=5000,
        efficiency=1.0,
        min_soc_pct=0,
        max_soc_pct=100,
        initial_soc_pct=50,
    )
    problem = DispatchProblem(
        battery=battery,
        step_s=900.0,
        net_load_w=[2000.0, 2000.0, 5000.0, 5000.0],
        import_price_per_kwh=[0.0] * 4,
        export_price_per_kwh=[0.0] * 4,
        demand_charge_per_kw=10.0,
        peak_floor_w=2500.0,
    )
    grid = np.array([2000.0, 2000.0, 3000.0, 3000.0])
    zeros = np.zeros(4)
    plan = DispatchPlan(
        battery_w=np.array([0.0, 0.0, 2000.0, 2000.0]),
        charge_w=zeros,
        discharge_w=zeros,
        grid_w=grid,
        energy_wh=np.array([5000.0, 5000.0, 4500.0, 4000.0]),
        peak_import_w=np.array([3000.0]),
        cost=0.0,
    )
    # Without the battery the peak would be 2.5 kW above the floor, with it 0.5 kW.
    assert expected_saving(problem, plan) == pytest.approx(10.0 * 2.5 - 10.0 * 0.5)
