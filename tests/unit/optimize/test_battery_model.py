"""The optimiser's battery is the simulator's: same bounds, same derated limits, same losses."""

from __future__ import annotations

import pytest

from ems.dal import Sample
from ems.devices.base import SiteContext
from ems.devices.battery import BatteryConfig, BatterySimulator
from ems.optimize import BatteryModel

SITE = SiteContext(latitude_deg=52.52, longitude_deg=13.405, altitude_m=34.0, timezone="UTC")
T0 = 1_781_827_200.0
CONFIG = BatteryConfig(capacity_wh=8000, max_charge_power_w=3000, max_discharge_power_w=4000)


@pytest.mark.parametrize("soc_pct", [10.0, 11.0, 12.5, 30.0, 50.0, 90.0, 93.0, 95.0])
def test_limits_match_the_simulators_at_every_soc(soc_pct: float) -> None:
    config = CONFIG.model_copy(update={"initial_soc_pct": soc_pct})
    simulator = BatterySimulator("battery_1", config, SITE)
    model = BatteryModel.from_config(config)
    max_charge_w, max_discharge_w = simulator.limits_w()
    # The simulator also caps what would overshoot a bound within one 1 s step; far from
    # binding except right at a bound, where both are 0.
    assert model.charge_limit_w(model.initial_wh) == pytest.approx(max_charge_w)
    assert model.discharge_limit_w(model.initial_wh) == pytest.approx(max_discharge_w)


def test_an_hour_of_charge_stores_what_the_model_says() -> None:
    simulator = BatterySimulator("battery_1", CONFIG, SITE)
    model = BatteryModel.from_config(CONFIG)
    for k in range(3601):
        simulator.step(T0 + k, 1.0 if k else 0.0, {"SetActivePower": Sample(-1000.0, T0 + k)})
    assert simulator.energy_wh == pytest.approx(model.initial_wh + 1000.0 * model.efficiency)
