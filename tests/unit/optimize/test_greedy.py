"""The greedy self-consumption rule: covers what it can, within power and energy."""

from __future__ import annotations

import numpy as np
import pytest

from ems.optimize import BatteryModel, greedy_self_consumption


def battery(**overrides: float) -> BatteryModel:
    values: dict[str, float] = {
        "capacity_wh": 1000.0,
        "max_charge_power_w": 2000.0,
        "max_discharge_power_w": 1500.0,
        "efficiency": 0.9,
        "min_soc_pct": 10.0,
        "max_soc_pct": 90.0,
        "initial_soc_pct": 50.0,
    }
    values.update(overrides)
    return BatteryModel(**values)


def test_covers_the_net_demand_within_the_power_limits() -> None:
    run = greedy_self_consumption(battery(), [500.0, -300.0, 2500.0, -2600.0], 60.0)
    np.testing.assert_allclose(run.battery_w, [500.0, -300.0, 1500.0, -2000.0])
    np.testing.assert_allclose(run.grid_w, [0.0, 0.0, 1000.0, -600.0])


def test_stops_at_the_energy_bounds_with_the_efficiency_applied() -> None:
    # 400 Wh of room to 90 %: stores 0.9 Wh per Wh charged, so 444 Wh from the AC side.
    run = greedy_self_consumption(battery(), [-1000.0] * 2, 3600.0)
    assert run.battery_w[0] == pytest.approx(-400.0 / 0.9)
    assert run.battery_w[1] == 0.0
    assert run.energy_wh[-1] == pytest.approx(900.0)
    # 400 Wh above 10 % gives 360 Wh on the AC side.
    run = greedy_self_consumption(battery(), [1000.0] * 2, 3600.0)
    assert run.battery_w[0] == pytest.approx(360.0)
    assert run.energy_wh[-1] == pytest.approx(100.0)
