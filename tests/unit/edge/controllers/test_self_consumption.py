"""Self-consumption as cycle tables: set the site's inputs, run a cycle, expect the battery."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from site_loop import SET, B, SiteLoop, battery, sign_changes

from ems.clock import VirtualClock
from ems.edge.config import parse_edge_config
from ems.edge.controllers.self_consumption import SelfConsumption, SelfConsumptionParams
from ems.edge.runtime import EdgeRuntime
from ems.edge.testing import CycleHarness, devices_of
from ems.errors import ConfigError

DEVICES = devices_of({B: "battery", "grid": "grid_meter", "pv_1": "pv_inverter"})
STATE = "sc/State"


def harness(**params: Any) -> CycleHarness:
    sc = SelfConsumption("sc", 10, SelfConsumptionParams(**params), DEVICES)
    return CycleHarness([sc], DEVICES)


def cycle(h: CycleHarness, grid_w: float, **bat: float) -> Any:
    h.advance(1)
    h.set_many({**battery(**bat), "grid/ActivePower": grid_w})
    h.cycle_once()
    return h.output(SET)


def test_covers_the_load_then_holds_steady() -> None:
    h = harness()
    assert cycle(h, 1500) == 1500, "discharge what the grid imports"
    assert h.output(STATE) == "discharging"
    assert cycle(h, 0, power_w=1500) == 1500, "grid at 0: keep the same setpoint"
    assert cycle(h, 30, power_w=1500) == 1500, "within the deadband: no new setpoint"
    assert cycle(h, 400, power_w=1500) == 1900, "the load rose by 400 W"


def test_charges_from_surplus_pv() -> None:
    h = harness()
    assert cycle(h, -2000) == -2000
    assert h.output(STATE) == "charging"
    assert cycle(h, 0, power_w=-2000) == -2000


def test_holds_the_grid_at_a_target() -> None:
    h = harness(target_grid_w=500)
    assert cycle(h, 1500) == 1000
    loop = SiteLoop(h)
    for _ in range(5):
        loop.step(1500)
    assert loop.grid_w == 500


@pytest.mark.parametrize(
    ("grid_w", "limits", "expected_w"),
    [
        (8000, {"max_discharge_w": 3000}, 3000),
        (-4000, {"max_charge_w": 1000}, -1000),
        (2000, {"max_discharge_w": 0}, 0),
    ],
)
def test_within_the_live_limits(grid_w: float, limits: dict[str, float], expected_w: float) -> None:
    assert cycle(harness(), grid_w, **limits) == expected_w


def test_soc_bounds_with_hysteresis() -> None:
    h = harness(min_soc_pct=10, max_soc_pct=90, soc_hysteresis_pct=2)
    assert cycle(h, 1000, soc=10) == 0, "empty enough: no discharge"
    assert h.output(STATE) == "at_min_soc"
    assert cycle(h, 1000, soc=11) == 0, "still within the hysteresis"
    assert cycle(h, 1000, soc=12) == 1000
    h = harness(min_soc_pct=10, max_soc_pct=90, soc_hysteresis_pct=2)
    assert cycle(h, -1000, soc=90) == 0, "full enough: no charge"
    assert h.output(STATE) == "at_max_soc"
    assert cycle(h, -1000, soc=89) == 0
    assert cycle(h, -1000, soc=88) == -1000
    h = harness(min_soc_pct=10)
    assert cycle(h, -1000, soc=5) == -1000, "below the minimum it may still charge"


def test_stale_input_idles_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    h = harness()
    assert cycle(h, 1500) == 1500
    h.advance(1)
    h.set_many(battery(power_w=1500))  # the grid meter stopped answering
    h.advance(15)
    h.set_many(battery(power_w=1500))
    with caplog.at_level(logging.WARNING):
        h.cycle_once()
    assert h.output(SET) == 0
    assert h.output(STATE) == "stale_inputs"
    assert "grid/ActivePower is 16 s old" in caplog.text
    assert cycle(h, 700) == 700, "fresh again: back to work"


def test_missing_input_idles_and_says_why() -> None:
    h = harness()
    h.set("grid/ActivePower", 1000)  # no battery telemetry yet
    h.cycle_once()
    assert h.output(SET) == 0
    assert h.output(STATE) == "missing_inputs"


def test_no_flicker_under_a_noisy_steady_load() -> None:
    """Net load hovering around zero with seeded noise: the battery does not alternate."""
    rng = random.Random(13)
    for mean_w, noise_w in ((0.0, 300.0), (40.0, 150.0), (-60.0, 800.0)):
        loop = SiteLoop(harness())
        powers = [loop.step(mean_w + rng.gauss(0, noise_w)) for _ in range(3600)]
        assert sign_changes(powers) <= 1, (mean_w, noise_w)
    # The same noise on the bare formula flickers: the test can fail.
    naive = [rng.gauss(0, 300.0) for _ in range(3600)]
    assert sign_changes(naive) > 1000


def test_still_follows_a_real_change_of_direction() -> None:
    rng = random.Random(7)
    loop = SiteLoop(harness())
    for _ in range(600):
        loop.step(1200 + rng.gauss(0, 200))
    assert loop.battery_w > 0
    powers = [loop.step(-2500 + rng.gauss(0, 200)) for _ in range(30)]
    assert powers[-1] < -1500, "charges from the surplus within seconds"
    assert all(p <= 0 for p in powers[5:]), "and stays charging"


def site(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": [
            {"id": B, "profile": "battery"},
            {"id": "grid", "profile": "grid_meter"},
        ],
        "controllers": [
            {"id": "manual_override", "type": "manual_override", "priority": 100},
            {"id": "sc", "type": "self_consumption", "priority": 10, "params": params},
        ],
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"deadband_w": -5}, "controllers[1].params.deadband_w: Input should be greater than"),
        ({"max_input_age_s": 0}, "controllers[1].params.max_input_age_s: Input should be greater"),
        ({"smoothing_s": -1}, "controllers[1].params.smoothing_s"),
        ({"target_w": 0}, "controllers[1].params.target_w: unknown key"),
        ({"min_soc_pct": 120}, "controllers[1].params.min_soc_pct"),
        ({"min_soc_pct": 60, "max_soc_pct": 40}, "min_soc_pct must be below max_soc_pct"),
        ({"target_grid_w": "lots"}, "controllers[1].params.target_grid_w"),
    ],
)
def test_bad_params_are_refused_naming_the_field(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_edge_config(site(params))
    assert message in str(err.value)


def test_good_params_load() -> None:
    config = parse_edge_config(site({"target_grid_w": -200, "deadband_w": 25}))
    assert config.controllers[1].params == {"target_grid_w": -200, "deadband_w": 25}


def test_a_battery_the_site_does_not_have_is_refused_at_start() -> None:
    config = parse_edge_config(site({"battery": "battery_9"}))
    with pytest.raises(ConfigError, match=r"controllers\[1\]\.params\.battery: 'battery_9'"):
        EdgeRuntime(config, VirtualClock())
