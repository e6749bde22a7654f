"""Peak shaving as cycle tables, alone and composed with self-consumption and manual override."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from site_loop import SET, B, SiteLoop, battery

from ems.edge.config import parse_edge_config
from ems.edge.controllers.manual_override import ManualOverride, ManualOverrideParams
from ems.edge.controllers.peak_shaving import PeakShaving, PeakShavingParams
from ems.edge.controllers.self_consumption import SelfConsumption, SelfConsumptionParams
from ems.edge.testing import CycleHarness, devices_of
from ems.errors import ConfigError

DEVICES = devices_of({B: "battery", "grid": "grid_meter"})
STATE = "ps/State"


def peak_shaving(
    peak_import_w: float = 5000, recharge_below_w: float = 2000, **more: float
) -> PeakShaving:
    params = PeakShavingParams(
        peak_import_w=peak_import_w, recharge_below_w=recharge_below_w, **more
    )
    return PeakShaving("ps", 20, params, DEVICES)


def self_consumption(**params: Any) -> SelfConsumption:
    return SelfConsumption("sc", 10, SelfConsumptionParams(**params), DEVICES)


def manual() -> ManualOverride:
    return ManualOverride("manual_override", 100, ManualOverrideParams(), DEVICES)


def cycle(h: CycleHarness, grid_w: float, **bat: float) -> Any:
    h.advance(1)
    h.set_many({**battery(**bat), "grid/ActivePower": grid_w})
    h.cycle_once()
    return h.output(SET)


# -- alone ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("grid_w", "bat", "expected_w", "state"),
    [
        (8000, {}, 3000, "shaving"),  # 3 kW over the peak
        (6000, {"power_w": 3000}, 4000, "shaving"),  # battery already at 3 kW: import0 = 9 kW
        (12000, {"max_discharge_w": 2500}, 2500, "shaving"),  # the battery's live limit
        (3000, {}, 0, "standby"),  # between recharge level and peak: nothing
        (500, {}, -1500, "recharging"),  # recharge up to 2 kW of import
        (500, {"max_charge_w": 800}, -800, "recharging"),
        (-1000, {}, -3000, "recharging"),  # exporting: room for 3 kW
    ],
)
def test_alone(grid_w: float, bat: dict[str, float], expected_w: float, state: str) -> None:
    h = CycleHarness([peak_shaving()], DEVICES)
    assert cycle(h, grid_w, **bat) == expected_w
    assert h.output(STATE) == state


def test_steady_state_holds_the_import_at_the_peak() -> None:
    loop = SiteLoop(CycleHarness([peak_shaving()], DEVICES))
    loop.step(7000)
    for _ in range(10):  # the battery follows one cycle later: then the import sits at the peak
        assert loop.step(7000) == 2000
        assert loop.grid_w == 5000
    rng = random.Random(3)
    for _ in range(300):  # noisy: each cycle discharges exactly what it measured over the peak
        net_w = 7000 + rng.gauss(0, 300)
        assert loop.step(net_w) == pytest.approx(net_w - 5000)


def test_recharging_never_lifts_the_import_above_the_recharge_level() -> None:
    loop = SiteLoop(CycleHarness([peak_shaving()], DEVICES))
    for net_w in (1000, 1500, 1900, 1200, 500):
        loop.step(net_w)
        loop.step(net_w)  # the battery follows
        assert loop.grid_w == pytest.approx(2000)


def test_stale_inputs_stand_aside_and_say_why(caplog: pytest.LogCaptureFixture) -> None:
    h = CycleHarness([peak_shaving()], DEVICES)
    assert cycle(h, 8000) == 3000
    h.advance(30)
    h.set_many(battery())  # the grid meter went quiet
    with caplog.at_level(logging.WARNING):
        h.cycle_once()
    assert h.output(SET) == 0, "no range, no write: the battery idles"
    assert h.output(STATE) == "stale_inputs"
    assert "grid/ActivePower is 30 s old" in caplog.text


def test_no_flicker_with_the_import_hovering_at_the_peak() -> None:
    loop = SiteLoop(CycleHarness([peak_shaving(5000, 4500)], DEVICES))
    rng = random.Random(5)
    powers = [loop.step(5000 + rng.gauss(0, 150)) for _ in range(3600)]
    assert min(powers) >= 0, "never recharges while the import sits near the peak"
    assert max(powers) > 0


# -- composed -------------------------------------------------------------
def test_peak_shaving_beats_self_consumption() -> None:
    # Self-consumption holding a high target would leave 3 kW over the peak.
    h = CycleHarness([self_consumption(target_grid_w=6000), peak_shaving()], DEVICES)
    assert cycle(h, 8000) == 3000
    # Self-consumption at its minimum SOC does not discharge; the peak still is shaved.
    h = CycleHarness([self_consumption(min_soc_pct=20), peak_shaving()], DEVICES)
    assert cycle(h, 8000, soc=15) == 3000
    assert h.output("sc/State") == "at_min_soc"


def test_self_consumption_works_inside_the_peak_shaving_range() -> None:
    h = CycleHarness([self_consumption(), peak_shaving()], DEVICES)
    assert cycle(h, 4000) == 4000, "below the peak: self-consumption covers the load"
    h = CycleHarness([self_consumption(), peak_shaving()], DEVICES)
    assert cycle(h, -2500) == -2500, "surplus PV: it charges, within the recharge room"
    h = CycleHarness([self_consumption(target_grid_w=3000), peak_shaving()], DEVICES)
    assert cycle(h, 2500) == 0, "its wish to charge 500 W would lift import over 2 kW"


def test_priority_not_the_list_order_decides() -> None:
    h = CycleHarness([peak_shaving(), self_consumption(target_grid_w=6000)], DEVICES)
    assert cycle(h, 8000) == 3000


def test_manual_beats_both_and_auto_hands_the_battery_back() -> None:
    h = CycleHarness([self_consumption(), peak_shaving(), manual()], DEVICES)
    assert cycle(h, 9000) == 5000, "auto: self-consumption, bounded by the live limit"
    h.command(B, "set_active_power", -1000)
    assert cycle(h, 9000) == -1000, "the operator's charge beats the peak"
    assert cycle(h, 9000, power_w=-1000) == -1000, "held"
    h.command(B, "set_mode", "auto")
    assert cycle(h, 8000) == 5000
    assert cycle(h, 1000, power_w=5000, soc=50) == 5000, "steady: load covered, no import"


# -- the reserve kept for peaks --------------------------------------------
@pytest.mark.parametrize(
    ("grid_w", "soc", "expected_w", "state"),
    [
        (1000, 60, 1000, "recharging"),  # above the reserve: self-consumption covers the load
        (1000, 40, 0, "holding_reserve"),  # at the reserve: no discharge for the load
        (-2000, 40, -2000, "holding_reserve"),  # surplus PV still charges it
        (7000, 41, 5000, "shaving"),  # above it: self-consumption covers what it can
        (7000, 40, 2000, "shaving"),  # a peak may use the reserve, but only for the peak
        (7000, 30, 2000, "shaving"),
        (500, 30, -1500, "restoring_reserve"),  # after the peak: recharged up to 2 kW import
    ],
)
def test_the_reserve_is_kept_for_peaks(
    grid_w: float, soc: float, expected_w: float, state: str
) -> None:
    h = CycleHarness([self_consumption(), peak_shaving(reserve_soc_pct=40)], DEVICES)
    assert cycle(h, grid_w, soc=soc) == expected_w
    assert h.output(STATE) == state


def test_the_reserve_is_restored_after_a_peak_and_then_held_without_flicker() -> None:
    h = CycleHarness([self_consumption(), peak_shaving(reserve_soc_pct=40)], DEVICES)
    powers = []
    for soc in (41, 40.5, 39.9, 39.0, 38.5):  # the evening's load drains it to the reserve
        powers.append(cycle(h, 800, soc=soc))
    assert powers == [800, 800, 0, 0, 0], "within the hysteresis: held, not recharged"
    assert cycle(h, 800, soc=37.9) == -1200, "a peak took it below: restore"
    assert cycle(h, 800, soc=39.5) == -1200, "until back at the reserve"
    assert h.output(STATE) == "restoring_reserve"
    assert cycle(h, 800, soc=40.0) == 0
    assert h.output(STATE) == "holding_reserve"


def test_without_a_reserve_self_consumption_may_empty_the_battery() -> None:
    h = CycleHarness([self_consumption(), peak_shaving()], DEVICES)
    assert cycle(h, 1000, soc=15) == 1000


# -- configuration --------------------------------------------------------
def site(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": [{"id": B, "profile": "battery"}, {"id": "grid", "profile": "grid_meter"}],
        "controllers": [{"id": "ps", "type": "peak_shaving", "priority": 20, "params": params}],
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"peak_import_w": -1}, "controllers[0].params.peak_import_w: Input should be greater"),
        ({"peak_import_w": 5000, "recharge_below_w": -1}, "params.recharge_below_w: Input"),
        ({}, "controllers[0].params.peak_import_w: Field required"),
        ({"peak_import_w": 5000, "recharge_below_w": 6000}, "must be below peak_import_w"),
        ({"peak_import_w": 5000, "recharge_below_w": 5000}, "must be below peak_import_w"),
        ({"peak_import_w": 5000, "peak_w": 1}, "controllers[0].params.peak_w: unknown key"),
        ({"peak_import_w": 5000, "max_input_age_s": 0}, "params.max_input_age_s: Input"),
        ({"peak_import_w": 5000, "reserve_soc_pct": 101}, "params.reserve_soc_pct: Input"),
        ({"peak_import_w": 5000, "reserve_hysteresis_pct": 0}, "reserve_hysteresis_pct: Input"),
    ],
)
def test_bad_params_are_refused_naming_the_field(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_edge_config(site(params))
    assert message in str(err.value)


def test_manual_mode_without_a_setpoint_idles_whatever_the_peak() -> None:
    h = CycleHarness([self_consumption(), peak_shaving(), manual()], DEVICES)
    h.command(B, "set_mode", "manual")
    assert cycle(h, 9000) == 0
    assert h.output(STATE) == "shaving", "peak shaving still says what it would do"
