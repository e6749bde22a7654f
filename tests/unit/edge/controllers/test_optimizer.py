"""The optimiser as cycle tables: it follows its plan as a grid target, corrects the
forecast's error, keeps to the SOC bounds, and falls back to self-consumption when it
has no plan (a solver that fails or hangs), saying why."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from site_loop import SET, B, battery

from ems.clock import VirtualClock
from ems.edge.controllers.base import ControllerSite
from ems.edge.controllers.optimizer import Optimizer, OptimizerParams
from ems.edge.controllers.optimizer.worker import ThreadWorker
from ems.edge.testing import CycleHarness, devices_of
from ems.optimize import DispatchPlan, DispatchProblem, OptimizeError, solve_dispatch
from ems.tariff import Tariff, TariffConfig

DEVICES = devices_of({B: "battery", "grid": "grid_meter"})
STATE = "opt/State"
TARGET = "opt/TargetGridPower"
DAY0 = 1_781_827_200.0  # 2026-06-19T00:00:00Z
#: Cheap nights until 08:00, dear days. From 06:00 the battery (20 % of 10 kWh, 4 kW
#: live charge limit) needs the whole two cheap hours at full power to fill up.
TARIFF = Tariff.from_config(
    TariffConfig.model_validate(
        {
            "currency": "EUR",
            "import": {
                "windows": [
                    {"from": "00:00", "to": "08:00", "price_per_kwh": 0.10},
                    {"from": "08:00", "to": "24:00", "price_per_kwh": 0.40},
                ]
            },
            "export": {"price_per_kwh": 0.0},
        }
    ),
    "UTC",
    ".",
)


def forecast_csv(folder: Path, load_w: float = 1000.0) -> Path:
    """Two days of a steady load and no PV: the perfect forecast of the tests' site."""
    path = folder / "future.csv"
    path.write_text(
        f"timestamp,load_w,pv_w\n2026-06-19T00:00:00Z,{load_w},0\n2026-06-21T00:00:00Z,{load_w},0\n"
    )
    return path


def optimizer(
    folder: Path, *, inline: bool = True, solve: Any = solve_dispatch, **params: Any
) -> Optimizer:
    values: dict[str, Any] = {
        "forecast": "perfect",
        "forecast_csv": str(forecast_csv(folder)),
        "capacity_wh": 10_000,
        "efficiency": 1.0,
    }
    values.update(params)
    site = ControllerSite(timezone="UTC", tariff=TARIFF, inline_work=inline)
    return Optimizer("opt", 20, OptimizerParams(**values), DEVICES, site, solve)


class Loop:
    """One cycle a second from 06:00 UTC; the battery delivers last cycle's setpoint."""

    def __init__(self, ctrl: Optimizer, soc: float = 20.0) -> None:
        self.h = CycleHarness([ctrl], DEVICES, clock=VirtualClock(DAY0 + 6 * 3600 - 1))
        self.soc = soc
        self.battery_w = 0.0

    def step(self, net_w: float = 1000.0, seconds: float = 1.0, **bat: float) -> float:
        self.h.advance(seconds)
        bat.setdefault("max_charge_w", 4000.0)
        self.h.set_many(
            {
                **battery(self.soc, power_w=self.battery_w, **bat),
                "grid/ActivePower": net_w - self.battery_w,
            }
        )
        self.h.cycle_once()
        out = self.h.output(SET)
        assert isinstance(out, int | float)
        self.battery_w = float(out)
        return self.battery_w

    def out(self, address: str) -> Any:
        return self.h.output(address)


# -- following the plan ------------------------------------------------------
def test_it_charges_in_the_cheap_night_for_the_dear_day(tmp_path: Path) -> None:
    ctrl = optimizer(tmp_path)
    loop = Loop(ctrl)
    loop.step()
    assert ctrl.plan is not None
    start_s, plan = ctrl.plan
    assert start_s == DAY0 + 6 * 3600
    # 8 kWh into the battery by 08:00 (full), all 10 kWh out over the dear day.
    assert plan.battery_w[:8] == pytest.approx([-4000.0] * 8, abs=1e-3)
    assert plan.energy_wh[7] == pytest.approx(10_000.0, abs=1.0)
    assert plan.battery_w[8:72].sum() * 0.25 == pytest.approx(10_000.0, abs=1.0)
    assert loop.out(STATE) == "following_plan"
    assert loop.out(TARGET) == pytest.approx(plan.grid_w[0])


def test_the_grid_is_held_at_the_plans_target(tmp_path: Path) -> None:
    ctrl = optimizer(tmp_path)
    loop = Loop(ctrl)
    for _ in range(5):
        loop.step()
    target_w = float(loop.out(TARGET))
    assert target_w == pytest.approx(5000.0), "the plan charges 4 kW from the grid"
    assert 1000.0 - loop.battery_w == pytest.approx(target_w, abs=50.0)


def test_a_forecast_error_is_corrected_by_the_battery_at_once(tmp_path: Path) -> None:
    ctrl = optimizer(tmp_path)
    loop = Loop(ctrl)
    for _ in range(5):
        loop.step(1000.0)
    target_w = float(loop.out(TARGET))
    # 500 W more load than forecast, within the same plan step: the grid stays at the
    # target and the battery charges 500 W less.
    before_w = loop.battery_w
    for _ in range(5):
        loop.step(1500.0)
    assert loop.out(TARGET) == target_w
    assert loop.battery_w == pytest.approx(before_w + 500.0, abs=50.0)
    assert 1500.0 - loop.battery_w == pytest.approx(target_w, abs=50.0)


def test_no_charging_at_the_max_soc_whatever_the_plan_says(tmp_path: Path) -> None:
    ctrl = optimizer(tmp_path, max_soc_pct=90.0)
    loop = Loop(ctrl)
    loop.step()
    assert loop.battery_w < 0, "the plan charges"
    loop.soc = 90.0
    for _ in range(3):
        assert loop.step() >= 0.0


def test_the_live_charge_limit_caps_the_plan(tmp_path: Path) -> None:
    ctrl = optimizer(tmp_path, max_charge_power_w=5000.0)
    loop = Loop(ctrl)
    for _ in range(5):
        loop.step(max_charge_w=800.0)
    assert loop.battery_w == pytest.approx(-800.0)


def test_stale_inputs_idle_the_battery_and_say_why(tmp_path: Path) -> None:
    ctrl = optimizer(tmp_path)
    loop = Loop(ctrl)
    loop.step()
    loop.h.advance(20)  # nothing new from the devices for 20 s (limit 10 s)
    loop.h.cycle_once()
    assert loop.out(SET) == 0.0
    assert loop.out(STATE) == "stale_inputs"


# -- no plan: self-consumption, and why --------------------------------------
def test_a_failing_solver_falls_back_to_self_consumption(tmp_path: Path) -> None:
    def infeasible(problem: DispatchProblem) -> DispatchPlan:
        raise OptimizeError("HiGHS: Infeasible")

    ctrl = optimizer(tmp_path, solve=infeasible)
    loop = Loop(ctrl)
    for _ in range(5):
        loop.step(1000.0)
    assert loop.out(STATE) == "solve_failed"
    assert loop.battery_w == pytest.approx(1000.0, abs=50.0), "covers the load, grid at 0 W"


def test_a_later_failure_keeps_the_last_good_plan(tmp_path: Path) -> None:
    calls: list[int] = []

    def once_then_fail(problem: DispatchProblem) -> DispatchPlan:
        calls.append(1)
        if len(calls) > 1:
            raise OptimizeError("HiGHS: Infeasible")
        return solve_dispatch(problem)

    ctrl = optimizer(tmp_path, solve=once_then_fail)
    loop = Loop(ctrl)
    loop.step()
    assert ctrl.plan is not None
    _, first = ctrl.plan
    loop.step(seconds=900.0)  # the next plan step: a new solve, which fails
    assert len(calls) == 2
    assert loop.out(STATE) == "following_last_plan"
    assert loop.out(TARGET) == pytest.approx(first.grid_w[1])


def test_the_cycle_does_not_wait_for_a_slow_solve_and_gives_it_up(tmp_path: Path) -> None:
    release = threading.Event()
    slow_calls: list[int] = []

    def slow_first(problem: DispatchProblem) -> DispatchPlan:
        slow_calls.append(1)
        if len(slow_calls) == 1:
            release.wait(timeout=30)
        return solve_dispatch(problem)

    ctrl = optimizer(tmp_path, inline=False, solve=slow_first, solve_timeout_s=30.0)
    worker = ctrl.worker
    assert isinstance(worker, ThreadWorker)
    loop = Loop(ctrl)
    try:
        loop.step(1000.0)  # submits the solve and returns at once
        assert worker.busy()
        assert loop.out(STATE) == "no_plan"
        assert loop.battery_w == pytest.approx(1000.0), "self-consumption meanwhile"
        loop.step(1000.0, seconds=31.0)
        assert loop.out(STATE) == "solve_timed_out"
    finally:
        release.set()
    assert worker.join(10.0)
    loop.step(1000.0)
    assert ctrl.plan is None, "a given-up solve's late answer is dropped"
    loop.step(1000.0, seconds=900.0)  # next step: a new solve
    assert worker.join(10.0)
    loop.step(1000.0)
    assert loop.out(STATE) == "following_plan"
    assert ctrl.plan is not None


def test_the_forecasts_and_the_build_run_on_the_workers_thread(tmp_path: Path) -> None:
    # A forecaster's refit takes seconds: the cycle hands over what it measured and the
    # worker forecasts, builds and solves.
    threads: dict[str, str] = {}
    release = threading.Event()

    def solve(problem: DispatchProblem) -> DispatchPlan:
        threads["solve"] = threading.current_thread().name
        release.wait(timeout=30)
        return solve_dispatch(problem)

    ctrl = optimizer(tmp_path, inline=False, solve=solve)
    forecaster = ctrl._load_fc
    forecast = forecaster.forecast

    def recording(*args: Any) -> Any:
        threads["forecast"] = threading.current_thread().name
        return forecast(*args)

    forecaster.forecast = recording  # type: ignore[method-assign]
    worker = ctrl.worker
    assert isinstance(worker, ThreadWorker)
    loop = Loop(ctrl)
    try:
        loop.step(1000.0)
        assert worker.busy()
        assert loop.out(STATE) == "no_plan", "the cycle went on without waiting"
    finally:
        release.set()
    assert worker.join(10.0)
    loop.step(1000.0)
    assert loop.out(STATE) == "following_plan"
    assert threads == {"forecast": "ems-optimizer-solve", "solve": "ems-optimizer-solve"}


def test_a_plan_that_cannot_be_built_is_a_failed_solve() -> None:
    def broken() -> DispatchProblem:
        raise OptimizeError("could not build the plan: no forecast")

    worker = ThreadWorker(solve_dispatch, timeout_s=30.0)
    worker.submit(broken, 0.0, 0.0)
    assert worker.join(10.0)
    outcome = worker.poll(0.0)
    assert outcome is not None and outcome.plan is None and outcome.problem is None
    assert (outcome.error, outcome.detail) == (
        "solve_failed",
        "could not build the plan: no forecast",
    )


# -- bad parameters ----------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"forecast": "perfect"}, "forecast_csv"),
        ({"forecast_csv": "x.csv"}, "forecast_csv"),
        ({"step_min": 7}, "step_min"),
        ({"horizon_h": 0}, "horizon_h"),
        ({"degradation_cost_per_kwh": -0.1}, "degradation_cost_per_kwh"),
        ({"error_carry_h": -1.0}, "error_carry_h"),
        ({"error_carry_h": float("nan")}, "error_carry_h"),
        ({"month_rest_days": -1}, "month_rest_days"),
        ({"month_rest_days": 61}, "month_rest_days"),
        ({"capacity_wh": 10_000, "speed": 1}, "speed"),
    ],
)
def test_bad_parameters_are_refused_with_the_field_named(
    params: dict[str, Any], field: str
) -> None:
    values: dict[str, Any] = {"capacity_wh": 10_000, **params}
    with pytest.raises(ValidationError, match=field):
        OptimizerParams(**values)


def test_a_site_without_a_tariff_or_a_bad_forecast_file_is_refused(tmp_path: Path) -> None:
    params = OptimizerParams(capacity_wh=10_000)
    with pytest.raises(ValueError, match="tariff"):
        Optimizer("opt", 20, params, DEVICES, ControllerSite())
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,load_w,pv_w\n2026-06-19T00:00:00Z,oops,0\n")
    params = OptimizerParams(capacity_wh=10_000, forecast="perfect", forecast_csv=str(bad))
    with pytest.raises(ValueError, match=r"forecast_csv: .*line 2"):
        Optimizer("opt", 20, params, DEVICES, ControllerSite(tariff=TARIFF))


def test_a_perfect_forecast_plans_to_the_end_of_its_data_and_leaves_nothing_there(
    tmp_path: Path,
) -> None:
    # The known future ends at 12:00: six hours of plan, the battery at its minimum then
    # (energy past the data is worth nothing, as for the perfect-foresight optimum).
    short = tmp_path / "short.csv"
    short.write_text(
        "timestamp,load_w,pv_w\n2026-06-19T00:00:00Z,1000,0\n2026-06-19T12:00:00Z,1000,0\n"
    )
    ctrl = optimizer(tmp_path, forecast_csv=str(short))
    Loop(ctrl, soc=60.0).step()
    assert ctrl.plan is not None
    _, plan = ctrl.plan
    assert len(plan.grid_w) == 24
    assert plan.energy_wh[-1] == pytest.approx(0.0, abs=1.0)
