"""The optimiser's peak cap as cycle tables: with a demand charge, a load above the
forecast is imported up to the plan's peak before the battery does more than planned,
and beyond it the battery holds the peak; without one the follower holds the target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from site_loop import SET, B, battery

from ems.clock import VirtualClock
from ems.edge.controllers.base import ControllerSite
from ems.edge.controllers.optimizer import Optimizer, OptimizerParams
from ems.edge.testing import CycleHarness, devices_of
from ems.optimize import DispatchPlan, DispatchProblem
from ems.tariff import Tariff, TariffConfig

DEVICES = devices_of({B: "battery", "grid": "grid_meter"})
DAY0 = 1_781_827_200.0  # 2026-06-19T00:00:00Z
PLAN_GRID_W = 500.0  # the plan: the battery gives 500 W of a 1000 W load ...
PLAN_BATTERY_W = 500.0
PLAN_PEAK_W = 2000.0  # ... and this month's planned peak is 2000 W


def tariff(demand_charge_per_kw_month: float) -> Tariff:
    config = {
        "currency": "EUR",
        "import": {"price_per_kwh": 0.2},
        "export": {"price_per_kwh": 0.0},
        "demand_charge_per_kw_month": demand_charge_per_kw_month,
    }
    return Tariff.from_config(TariffConfig.model_validate(config), "UTC", ".")


def fixed_plan(problem: DispatchProblem) -> DispatchPlan:
    n = len(problem.net_load_w)
    battery_w = np.full(n, PLAN_BATTERY_W)
    return DispatchPlan(
        battery_w=battery_w,
        charge_w=np.zeros(n),
        discharge_w=battery_w,
        grid_w=np.full(n, PLAN_GRID_W),
        energy_wh=np.full(n, 5000.0),
        peak_import_w=np.array([PLAN_PEAK_W]),
        cost=0.0,
    )


def loop(tmp_path: Path, demand_charge: float = 12.0, **params: Any) -> CycleHarness:
    future = tmp_path / "future.csv"
    future.write_text(
        "timestamp,load_w,pv_w\n2026-06-19T00:00:00Z,1000,0\n2026-06-21T00:00:00Z,1000,0\n"
    )
    values: dict[str, Any] = {
        "forecast": "perfect",
        "forecast_csv": str(future),
        "capacity_wh": 10_000,
        "deadband_w": 0.0,
        **params,
    }
    site = ControllerSite(timezone="UTC", tariff=tariff(demand_charge), inline_work=True)
    ctrl = Optimizer("opt", 20, OptimizerParams(**values), DEVICES, site, fixed_plan)
    return CycleHarness([ctrl], DEVICES, clock=VirtualClock(DAY0 + 6 * 3600))


def cycle(h: CycleHarness, net_w: float, battery_now_w: float = PLAN_BATTERY_W) -> float:
    h.advance(1.0)
    h.set_many({**battery(50.0, power_w=battery_now_w), "grid/ActivePower": net_w - battery_now_w})
    h.cycle_once()
    out = h.output(SET)
    assert isinstance(out, int | float)
    return float(out)


def test_a_load_above_the_forecast_is_imported_up_to_the_planned_peak(tmp_path: Path) -> None:
    h = loop(tmp_path)
    # 1800 W instead of 1000: holding the target would take 1300 W from the battery;
    # under the cap the import rises to 1300 W (< 2000) and the battery keeps to its plan.
    assert cycle(h, 1800.0) == pytest.approx(PLAN_BATTERY_W)
    assert h.output("opt/PeakCapW") == pytest.approx(PLAN_PEAK_W)


def test_above_the_planned_peak_the_battery_holds_it(tmp_path: Path) -> None:
    h = loop(tmp_path)
    # 3000 W: the import may take 2000 W, the battery the other 1000 W (more than planned).
    assert cycle(h, 3000.0) == pytest.approx(1000.0)


def test_a_load_below_the_forecast_is_still_followed(tmp_path: Path) -> None:
    h = loop(tmp_path)
    # 800 W: the follower holds the grid at the plan's 500 W with 300 W, saving energy.
    assert cycle(h, 800.0) == pytest.approx(300.0)


def test_without_a_demand_charge_the_grid_is_held_at_the_target(tmp_path: Path) -> None:
    h = loop(tmp_path, demand_charge=0.0)
    assert cycle(h, 1800.0) == pytest.approx(1300.0)
    assert h.output("opt/PeakCapW") is None


def test_the_cap_can_be_switched_off(tmp_path: Path) -> None:
    h = loop(tmp_path, cap_import_at_peak=False)
    assert cycle(h, 1800.0) == pytest.approx(1300.0)


def test_the_error_margin_needs_valid_params() -> None:
    with pytest.raises(ValueError, match="peak_error_quantile_pct"):
        OptimizerParams(capacity_wh=1000, peak_error_quantile_pct=120)
    with pytest.raises(ValueError, match="peak_error_days"):
        OptimizerParams(capacity_wh=1000, peak_error_days=-1)
