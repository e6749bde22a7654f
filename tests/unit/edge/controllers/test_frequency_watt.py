"""Frequency-watt as cycle tables: raise the grid frequency, expect curtailment."""

from __future__ import annotations

from typing import Any

import pytest

from ems.edge.config import validate_params
from ems.edge.controllers.frequency_watt import FrequencyWatt, FrequencyWattParams
from ems.edge.testing import CycleHarness, devices_of
from ems.errors import ConfigError

PV = "pv_1"
B = "battery_1"
LIMIT = f"{PV}/SetActivePowerLimit"
SET_P = f"{B}/SetActivePower"
DEVICES = devices_of({B: "battery", PV: "pv_inverter", "grid": "grid_meter"})


def harness(device: str = PV, **params: Any) -> CycleHarness:
    cfg = validate_params(FrequencyWattParams, {"device": device, **params}, ("params",))
    return CycleHarness([FrequencyWatt("fw", 70, cfg, DEVICES)], DEVICES)


def step(h: CycleHarness, f_hz: float, pv_w: float = 6000.0, battery_w: float = 0.0) -> None:
    h.set_many(
        {
            "grid/Frequency": f_hz,
            f"{PV}/ActivePower": pv_w,
            f"{B}/ActivePower": battery_w,
            f"{B}/MaxChargePower": 5000.0,
            f"{B}/MaxDischargePower": 5000.0,
            f"{B}/RatedApparentPower": 5000.0,
        }
    )
    h.cycle_once()
    h.advance(1)


def test_no_curtailment_at_nominal_or_within_the_deadband() -> None:
    h = harness()
    for f_hz in (50.0, 49.9, 50.02, 50.036):  # IEEE 1547-2018 default deadband 0.036 Hz
        step(h, f_hz)
        assert h.output(LIMIT) is None
        assert h.output("fw/State") == "normal"
        assert h.output("fw/PreDisturbancePower") is None


@pytest.mark.parametrize(
    ("f_hz", "limit_w"),
    [
        (50.236, 6000.0 * (1 - 0.2 / 2.5)),  # 0.2 Hz above the deadband, 5 % of 50 Hz = 2.5 Hz
        (50.536, 6000.0 * (1 - 0.5 / 2.5)),
        (51.286, 6000.0 * (1 - 1.25 / 2.5)),  # half the power gone
        (52.6, 0.0),  # past the whole droop: never a negative limit
    ],
)
def test_pv_limit_follows_the_droop(f_hz: float, limit_w: float) -> None:
    h = harness()
    step(h, 50.0)
    step(h, f_hz)
    assert h.output(LIMIT) == pytest.approx(limit_w)
    assert h.output("fw/State") == "curtailing"
    assert h.output("fw/PreDisturbancePower") == 6000.0


def test_60_hz_grid_with_its_own_deadband_and_droop() -> None:
    h = harness(nominal_hz=60, deadband_hz=0.036, droop=0.04)
    step(h, 60.0)
    step(h, 60.636, pv_w=4000.0)  # 0.6 Hz above the deadband; 4 % of 60 Hz = 2.4 Hz
    assert h.output(LIMIT) == pytest.approx(4000.0 * (1 - 0.6 / 2.4))


def test_pre_disturbance_power_is_remembered_while_the_event_lasts() -> None:
    h = harness()
    step(h, 50.536, pv_w=6000.0)  # event starts at 6 kW
    assert h.output(LIMIT) == pytest.approx(4800.0)
    step(h, 50.536, pv_w=4800.0)  # curtailed power measured: the reference stays 6 kW
    assert h.output(LIMIT) == pytest.approx(4800.0)
    step(h, 50.286, pv_w=4800.0)  # frequency falls: the limit rises again
    assert h.output(LIMIT) == pytest.approx(6000.0 * (1 - 0.25 / 2.5))
    assert h.output("fw/PreDisturbancePower") == 6000.0
    step(h, 50.0, pv_w=5400.0)  # back within the deadband: released
    assert h.output(LIMIT) is None
    assert h.output("fw/State") == "normal"
    step(h, 50.536, pv_w=3000.0)  # a new event starts from the power now
    assert h.output(LIMIT) == pytest.approx(2400.0)


def test_battery_discharges_less_then_charges() -> None:
    h = harness(device=B)
    step(h, 50.0, battery_w=2000.0)
    assert h.output(SET_P) == 0, "outside an event it leaves the battery to others (default)"
    step(h, 50.286, battery_w=2000.0)  # 0.25 Hz: 10 % of 5000 VA
    assert h.output(SET_P) == pytest.approx(1500.0)
    step(h, 51.536, battery_w=1500.0)  # 1.5 Hz: 60 % of 5000 VA, more than the 2 kW it gave
    assert h.output(SET_P) == pytest.approx(-1000.0)
    step(h, 52.6, battery_w=-1000.0)  # past the droop: from the 2 kW it gave, more than rated
    assert h.output(SET_P) == pytest.approx(2000.0 - 5000.0 * 2.564 / 2.5)


def test_battery_within_its_live_limits() -> None:
    h = harness(device=B)
    h.set_many({f"{B}/MaxChargePower": 800.0})
    h.set_many(
        {
            "grid/Frequency": 51.536,
            f"{B}/ActivePower": 0.0,
            f"{B}/MaxDischargePower": 5000.0,
            f"{B}/RatedApparentPower": 5000.0,
        }
    )
    h.cycle_once()
    assert h.output(SET_P) == pytest.approx(-800.0)  # nearly full: charges only what it can


@pytest.mark.parametrize("stale", ["grid/Frequency", f"{PV}/ActivePower"])
def test_stale_inputs_release_the_curtailment_and_say_why(stale: str) -> None:
    h = harness()
    step(h, 50.536)
    assert h.output(LIMIT) == pytest.approx(4800.0)
    h.advance(10)
    fresh = {"grid/Frequency": 50.536, f"{PV}/ActivePower": 4800.0}
    del fresh[stale]
    h.set_many(fresh)
    h.cycle_once()
    assert h.output(LIMIT) is None
    assert h.output("fw/State") == "stale_inputs"
    assert h.output("fw/PreDisturbancePower") is None


def test_missing_frequency_curtails_nothing() -> None:
    h = harness()
    h.set_many({f"{PV}/ActivePower": 6000.0})
    h.cycle_once()
    assert h.output(LIMIT) is None
    assert h.output("fw/State") == "missing_inputs"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"nominal_hz": 55}, "nominal_hz"),
        ({"deadband_hz": -0.1}, "deadband_hz"),
        ({"deadband_hz": 2.0}, "deadband_hz"),
        ({"droop": 0}, "droop"),
        ({"droop": 0.5}, "droop"),
        ({"droop_pct": 5}, "droop_pct"),
    ],
)
def test_bad_params_are_refused_with_the_field_named(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"controllers\[0\]\.params\.{field}"):
        validate_params(FrequencyWattParams, {"device": PV, **params}, ("controllers", 0, "params"))


def test_a_device_without_active_power_control_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^device: "):
        FrequencyWatt("fw", 70, FrequencyWattParams(device="grid"), DEVICES)
