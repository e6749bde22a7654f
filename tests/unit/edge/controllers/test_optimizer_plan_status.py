"""The optimiser publishes its plan (``<id>/Plan``, JSON) and what it expects to save,
so the cloud can draw the plan beside the forecast and the actual."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_optimizer import Loop, optimizer

from ems.edge.controllers.optimizer.plan_status import PLAN_VERSION, expected_saving
from ems.optimize import BatteryModel, DispatchPlan, DispatchProblem


def test_each_plan_is_published_with_its_soc_battery_power_and_saving(tmp_path: Path) -> None:
    ctrl = optimizer(tmp_path)
    loop = Loop(ctrl)
    loop.step()
    assert ctrl.plan is not None
    start_s, plan = ctrl.plan
    doc = json.loads(loop.out("opt/Plan"))
    assert doc["v"] == PLAN_VERSION
    assert doc["start_s"] == start_s
    assert doc["step_s"] == 900.0
    assert len(doc["soc_pct"]) == len(doc["battery_w"]) == len(doc["net_w"]) == 96
    assert doc["battery_w"][:8] == [-4000] * 8  # the cheap night's charge
    assert doc["soc_pct"][7] == pytest.approx(100.0)
    assert doc["net_w"][1] == 1000
    # 8 kWh bought at 0.10 replace 10 kWh at 0.40 (efficiency 1 in these tests).
    assert doc["saving"] == pytest.approx(3.2, abs=0.01)
    assert loop.out("opt/ExpectedSaving") == doc["saving"]
    assert loop.out("opt/PlannedSoc") == pytest.approx(100.0 * plan.energy_wh[0] / 10_000, abs=0.1)
    assert len(loop.out("opt/Plan")) < 3000, "compact enough for telemetry"


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
