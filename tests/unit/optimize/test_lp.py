"""The perfect-foresight LP on days small enough to check by hand (15-min steps, 0.25 h each)."""

from __future__ import annotations

import numpy as np
import pytest

from ems.optimize import (
    BatteryModel,
    DispatchPlan,
    DispatchProblem,
    OptimizeError,
    solve_dispatch,
)

QUARTER_S = 900.0


def battery(**overrides: float) -> BatteryModel:
    values: dict[str, float] = {
        "capacity_wh": 1000.0,
        "max_charge_power_w": 4000.0,
        "max_discharge_power_w": 4000.0,
        "efficiency": 1.0,
        "min_soc_pct": 0.0,
        "max_soc_pct": 100.0,
        "initial_soc_pct": 0.0,
    }
    values.update(overrides)
    return BatteryModel(**values)


def problem(bat: BatteryModel, net: list[float], buy: list[float], **kw: object) -> DispatchProblem:
    return DispatchProblem(
        battery=bat,
        step_s=QUARTER_S,
        net_load_w=net,
        import_price_per_kwh=buy,
        export_price_per_kwh=[0.0] * len(net),
        **kw,  # type: ignore[arg-type]
    )


TWO_PRICES = [0.10] * 4 + [0.40] * 4


def test_a_two_price_day_charges_cheap_and_discharges_expensive() -> None:
    # 1 kW all day: 1 kWh in each half. The empty 1 kWh battery fills in the cheap hour
    # and covers the whole expensive hour: 2 kWh at 0.10, nothing at 0.40.
    plan = solve_dispatch(problem(battery(), [1000.0] * 8, TWO_PRICES))
    assert plan.cost == pytest.approx(0.20, abs=1e-6)
    assert np.all(plan.discharge_w[:4] < 1e-6)
    assert np.all(plan.charge_w[4:] < 1e-6)
    assert plan.energy_wh[3] == pytest.approx(1000.0, abs=1e-3)
    np.testing.assert_allclose(plan.grid_w[4:], 0.0, atol=1e-6)
    np.testing.assert_allclose(plan.grid_w, 1000.0 - plan.battery_w, atol=1e-6)


def test_losses_are_paid_where_the_spread_covers_them() -> None:
    # η = 0.9 each way: 1 Wh bought at 0.10 returns 0.81 Wh, worth 0.324 at 0.40.
    plan = solve_dispatch(problem(battery(efficiency=0.9), [1000.0] * 8, TWO_PRICES))
    stored_wh = plan.energy_wh[3]
    assert stored_wh == pytest.approx(1000.0, abs=1e-3)
    delivered_wh = plan.discharge_w[4:].sum() * 0.25
    assert delivered_wh == pytest.approx(stored_wh * 0.9, rel=1e-6)


def test_power_and_soc_bounds_hold() -> None:
    bat = battery(
        max_charge_power_w=600.0,
        max_discharge_power_w=700.0,
        min_soc_pct=20,
        max_soc_pct=80,
        initial_soc_pct=50,
    )
    plan = solve_dispatch(problem(bat, [1000.0] * 8, TWO_PRICES))
    assert plan.charge_w.max() <= 600.0 + 1e-6
    assert plan.discharge_w.max() <= 700.0 + 1e-6
    assert plan.energy_wh.min() >= 200.0 - 1e-6
    assert plan.energy_wh.max() <= 800.0 + 1e-6
    # 600 W for four quarters is 600 Wh, more than the 300 Wh of room: it fills up.
    assert plan.energy_wh[3] == pytest.approx(800.0, abs=1e-3)


def test_never_charges_and_discharges_at_once_when_that_only_loses_energy() -> None:
    net = [800.0, -1500.0, 300.0, -200.0, 2500.0, -900.0, 0.0, 1200.0]
    bat = battery(efficiency=0.9, initial_soc_pct=50)
    plan = solve_dispatch(problem(bat, net, TWO_PRICES))
    np.testing.assert_allclose(np.minimum(plan.charge_w, plan.discharge_w), 0.0, atol=1e-6)


def test_a_flat_price_with_a_lossy_battery_and_no_surplus_leaves_it_idle() -> None:
    plan = solve_dispatch(
        problem(battery(efficiency=0.9), [1000.0] * 8, [0.3] * 8, terminal_min_wh=0.0)
    )
    np.testing.assert_allclose(plan.battery_w, 0.0, atol=1e-6)


def test_the_demand_charge_flattens_the_peak() -> None:
    # 1 kW for 7 quarters then 4 kW: 2.75 kWh in 2 h. Flat at 1375 W, the last quarter
    # needs (4000 − 1375) W · 0.25 h = 656 Wh from the battery, which it has room for.
    net = [1000.0] * 7 + [4000.0]
    without = solve_dispatch(problem(battery(), net, [0.3] * 8))
    assert without.cost == pytest.approx(2.75 * 0.3, abs=1e-6)
    plan = solve_dispatch(problem(battery(), net, [0.3] * 8, demand_charge_per_kw=10.0))
    assert plan.peak_import_w[0] == pytest.approx(1375.0, abs=1e-3)
    assert plan.grid_w.max() == pytest.approx(1375.0, abs=1e-3)
    assert plan.cost == pytest.approx(2.75 * 0.3 + 1.375 * 10.0, abs=1e-6)


def test_each_billing_period_has_its_own_peak() -> None:
    net = [1000.0, 3000.0, 500.0, 500.0]
    plan = solve_dispatch(
        problem(
            battery(max_charge_power_w=0.0, max_discharge_power_w=0.0),  # idle
            net,
            [0.3] * 4,
            demand_charge_per_kw=10.0,
            period_of_step=[7, 7, 8, 8],
        )
    )
    np.testing.assert_allclose(plan.peak_import_w, [3000.0, 500.0], atol=0.01)


def test_the_peak_is_the_mean_over_a_quarter_hour_not_one_step() -> None:
    # 5-min steps: 3 per quarter; a 3 kW spike in one step is a 1667 W quarter mean.
    plan = solve_dispatch(
        DispatchProblem(
            battery=battery(max_charge_power_w=0.0, max_discharge_power_w=0.0),
            step_s=300.0,
            net_load_w=[1000.0, 3000.0, 1000.0],
            import_price_per_kwh=[0.3] * 3,
            export_price_per_kwh=[0.0] * 3,
            demand_charge_per_kw=10.0,
        )
    )
    assert plan.peak_import_w[0] == pytest.approx(5000.0 / 3, abs=0.01)


def test_derating_near_full_limits_the_charge_power_as_the_simulator_does() -> None:
    # Band of 10 % (100 Wh) below 100 %, floor 0.1: at 950 Wh the limit is 4000·0.55 = 2200 W.
    bat = battery(initial_soc_pct=95, derate_band_pct=10, derate_floor=0.1)
    plan = solve_dispatch(problem(bat, [-4000.0] * 2, [0.3] * 2))
    assert plan.charge_w[0] <= bat.charge_limit_w(950.0) + 1e-6
    assert bat.charge_limit_w(950.0) == pytest.approx(2200.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("export_price_per_kwh", [0.5] * 8, "export price must not exceed"),
        ("step_s", 700.0, "must divide"),
        ("period_of_step", [1, 0, 0, 0, 0, 0, 0, 0], "must not decrease"),
    ],
)
def test_malformed_problems_are_refused(field: str, value: object, message: str) -> None:
    fields: dict[str, object] = {
        "battery": battery(),
        "step_s": QUARTER_S,
        "net_load_w": [1000.0] * 8,
        "import_price_per_kwh": TWO_PRICES,
        "export_price_per_kwh": [0.0] * 8,
        field: value,
    }
    with pytest.raises(OptimizeError, match=message):
        solve_dispatch(DispatchProblem(**fields))  # type: ignore[arg-type]


# -- what the MPC adds: wear, the terminal energy's value, the month's peak so far --
SPREAD = [0.10, 0.40]


@pytest.mark.parametrize(("wear", "cycles"), [(0.2, False), (0.1, True)])
def test_wear_per_kwh_stops_cycling_that_the_spread_does_not_pay_for(
    wear: float, cycles: bool
) -> None:
    # 0.25 kWh through the battery saves 0.30/kWh; wear is paid in and out (2 × wear).
    bat = battery(capacity_wh=250.0)
    plan = solve_dispatch(problem(bat, [1000.0] * 2, SPREAD, degradation_cost_per_kwh=wear))
    if cycles:
        assert plan.battery_w == pytest.approx([-1000.0, 1000.0], abs=1e-6)
        # 0.5 kWh at 0.10, plus 0.5 kWh of throughput at 0.10 wear
        assert plan.cost == pytest.approx(0.10, abs=1e-6)
    else:
        assert plan.battery_w == pytest.approx([0.0, 0.0], abs=1e-6)
        assert plan.cost == pytest.approx(0.125, abs=1e-6)


@pytest.mark.parametrize(("value", "stored_wh"), [(0.2, 1000.0), (0.05, 0.0)])
def test_the_terminal_value_keeps_energy_only_where_it_is_worth_it(
    value: float, stored_wh: float
) -> None:
    plan = solve_dispatch(problem(battery(), [0.0] * 2, [0.10] * 2, terminal_value_per_kwh=value))
    assert plan.energy_wh[-1] == pytest.approx(stored_wh, abs=1e-3)


def test_the_months_peak_so_far_is_a_floor_not_something_to_shave_below() -> None:
    # Billed at 3 kW already: 2 kW steps need no discharge (wear makes idling the optimum).
    bat = battery(initial_soc_pct=100.0)
    plan = solve_dispatch(
        problem(
            bat,
            [2000.0] * 2,
            [0.0] * 2,
            demand_charge_per_kw=10.0,
            peak_floor_w=3000.0,
            degradation_cost_per_kwh=0.01,
        )
    )
    assert plan.battery_w == pytest.approx([0.0, 0.0], abs=1e-6)
    assert plan.peak_import_w[0] == pytest.approx(3000.0)


def hedge(**kw: object) -> DispatchPlan:
    """The hedge's case: 1 kWh empty, a cheap quarter, then 4 kW of load that may be 8 kW
    (weight 0.9 unless ``kw`` says otherwise), 10 EUR/kW of demand charge."""
    values: dict[str, object] = {
        "demand_charge_per_kw": 10.0,
        "high_net_load_w": [0.0, 8000.0],
        "high_weight": 0.9,
    }
    values.update(kw)
    return solve_dispatch(problem(battery(), [0.0, 4000.0], [0.1, 0.1], **values))


def test_a_high_scenario_keeps_energy_for_the_peak_it_would_make() -> None:
    # 1 kWh empty, one cheap quarter then 4 kW of load: alone, the peak is shaved by
    # charging 2 kW first (2 kW, then 4 − 2 kW). If the load may be 8 kW (weight 0.9),
    # charging the full 4 kW first is cheaper: peaks 4 kW in both scenarios.
    alone = solve_dispatch(problem(battery(), [0.0, 4000.0], [0.1, 0.1], demand_charge_per_kw=10.0))
    assert alone.battery_w[0] == pytest.approx(-2000.0, abs=1e-3)
    hedged = hedge()
    assert hedged.battery_w[0] == pytest.approx(-4000.0, abs=1e-3)
    assert hedged.peak_import_w == pytest.approx([4000.0], abs=1e-3), "the net load's own peak"
    ignored = hedge(high_weight=0.0)
    assert ignored.battery_w[0] == pytest.approx(-2000.0, abs=1e-3)


def test_the_hedge_never_charges_from_the_grid_above_the_planned_peak() -> None:
    # The case above: alone the net load plans a 2 kW peak (charge 2 kW, then 4 − 2 kW).
    # The hedge's 4 kW charge would bill 4 kW whatever comes; capped, the first step
    # imports at most that 2 kW: charge 2 kW, and the high scenario's peak is 6 kW.
    hedged = hedge(cap_hedge_charging=True)
    assert hedged.battery_w[0] == pytest.approx(-2000.0, abs=1e-3)
    assert hedged.grid_w[0] == pytest.approx(2000.0, abs=1e-3)
    assert hedged.peak_import_w == pytest.approx([2000.0], abs=1e-3)


def test_the_hedge_charges_up_to_the_billed_peak_so_far() -> None:
    # With 3 kW billed already this month, import up to 3 kW is free: the hedge charges
    # 3 kW (not the 4 kW it wants), the net load's plan pays energy only.
    hedged = hedge(peak_floor_w=3000.0, cap_hedge_charging=True)
    assert hedged.battery_w[0] == pytest.approx(-3000.0, abs=1e-3)
    assert hedged.peak_import_w == pytest.approx([3000.0], abs=1e-3)


def test_the_hedge_cap_never_stops_a_load_above_it() -> None:
    # A first step whose own load (5 kW) is above every peak is imported, and the
    # battery is not charged on top of it.
    hedged = solve_dispatch(
        problem(
            battery(initial_soc_pct=50.0),
            [5000.0, 4000.0],
            [0.1, 0.1],
            demand_charge_per_kw=10.0,
            high_net_load_w=[5000.0, 9000.0],
            high_weight=0.9,
            cap_hedge_charging=True,
        )
    )
    assert hedged.grid_w[0] <= 5000.0 + 1e-3
    assert hedged.battery_w[0] >= -1e-3


def test_scenarios_that_cannot_be_told_apart_share_their_battery_schedule() -> None:
    # 1 kWh empty; two cheap quarters, then a dear one. The net load has nothing to
    # serve there, the high scenario 4 kW. With only the first step shared, the high
    # scenario charges privately in the second (as cheap): the step carried out charges
    # nothing, and so would every re-plan. Sharing both cheap steps (the scenarios
    # differ only at the third), the charge the high scenario needs happens in them:
    # 0.1 EUR for 1 kWh, against 0.5 · 0.4 EUR it saves there.
    prices = [0.1, 0.1, 0.4]
    kw: dict[str, object] = {"high_net_load_w": [0.0, 0.0, 4000.0], "high_weight": 0.5}
    first_only = solve_dispatch(problem(battery(), [0.0, 0.0, 0.0], prices, **kw))
    assert first_only.battery_w[0] == pytest.approx(0.0, abs=1e-3)
    assert first_only.battery_w[1] == pytest.approx(0.0, abs=1e-3), "the net load's own step"
    shared = solve_dispatch(problem(battery(), [0.0, 0.0, 0.0], prices, shared_steps=2, **kw))
    assert shared.battery_w[:2].sum() == pytest.approx(-4000.0, abs=1e-3)
    assert shared.energy_wh[1] == pytest.approx(1000.0, abs=1e-3)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"high_net_load_w": [0.0]}, "high_net_load_w"),
        ({"high_net_load_w": [0.0, float("nan")]}, "high_net_load_w"),
        ({"high_net_load_w": [0.0, 1.0], "high_weight": 1.0}, "high_weight"),
        ({"high_net_load_w": [0.0, 1.0], "shared_steps": 0}, "shared_steps"),
    ],
)
def test_a_malformed_high_scenario_is_refused(kw: dict[str, object], message: str) -> None:
    with pytest.raises(OptimizeError, match=message):
        solve_dispatch(problem(battery(), [0.0, 4000.0], [0.1, 0.1], **kw))


def test_the_rest_of_the_period_makes_shaving_below_its_likely_peak_worth_less() -> None:
    # One quarter of 2 kW with a full 1 kWh battery, 10 EUR/kW, wear 0.01 EUR/kWh. Billed
    # whole, the battery shaves the quarter to 0 (2 kW · 10 EUR/kW saves more than 0.5
    # kWh of wear costs). If the days to come bill at least 1.5 kW with certainty, only
    # the 0.5 kW above it pays: the battery discharges 500 W. If they bill 1.5 kW half the
    # time and nothing the other half, the 1.5 kW below still save 5 EUR/kW: shaved to 0.
    def plan(levels: list[tuple[float, float]] | None) -> DispatchPlan:
        return solve_dispatch(
            problem(
                battery(initial_soc_pct=100.0),
                [2000.0],
                [0.0],
                demand_charge_per_kw=10.0,
                degradation_cost_per_kwh=0.01,
                last_peak_levels=levels,
            )
        )

    assert plan(None).battery_w[0] == pytest.approx(2000.0, abs=1e-3)
    certain = plan([(1500.0, 1.0)])
    assert certain.battery_w[0] == pytest.approx(500.0, abs=1e-3)
    assert certain.cost == pytest.approx(10.0 * 0.0 + 0.5 * 0.25 * 0.01, abs=1e-9)
    assert plan([(0.0, 0.5), (1500.0, 0.5)]).battery_w[0] == pytest.approx(2000.0, abs=1e-3)


def test_only_the_last_period_is_billed_in_expectation() -> None:
    # Two periods, the battery idle: the first period ends within the horizon, so its
    # 3 kW is billed whole; the last's 1 kW lies below a certain 2 kW still to come.
    plan = solve_dispatch(
        problem(
            battery(max_charge_power_w=0.0, max_discharge_power_w=0.0),
            [3000.0, 1000.0],
            [0.0, 0.0],
            demand_charge_per_kw=10.0,
            period_of_step=[1, 2],
            last_peak_levels=[(2000.0, 1.0)],
        )
    )
    assert plan.cost == pytest.approx(3.0 * 10.0, abs=1e-6)


@pytest.mark.parametrize(
    "levels",
    [[(1000.0, 0.5)], [(-1.0, 1.0)], [(1000.0, float("nan"))], [], [(0.0, 0.5, 0.5)]],
)
def test_malformed_peak_levels_are_refused(levels: list[tuple[float, ...]]) -> None:
    with pytest.raises(OptimizeError, match="last_peak_levels"):
        solve_dispatch(problem(battery(), [1000.0], [0.1], last_peak_levels=levels))
