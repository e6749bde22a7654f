"""Fixed power factor as cycle tables: set P and the var limit, expect SetReactivePower."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ems.edge.config import validate_params
from ems.edge.controllers.fixed_power_factor import FixedPowerFactor, FixedPowerFactorParams
from ems.edge.testing import CycleHarness, devices_of
from ems.errors import ConfigError

PV = "pv_1"
SET_Q = f"{PV}/SetReactivePower"
DEVICES = devices_of({"battery_1": "battery", PV: "pv_inverter", "grid": "grid_meter"})


def harness(**params: Any) -> CycleHarness:
    cfg = FixedPowerFactorParams(**{"device": PV, **params})
    return CycleHarness([FixedPowerFactor("pf", 50, cfg, DEVICES)], DEVICES)


def pv(h: CycleHarness, p_w: float, max_var: float = 4000.0) -> None:
    h.set_many({f"{PV}/ActivePower": p_w, f"{PV}/MaxReactivePower": max_var})


@pytest.mark.parametrize(
    ("pf", "direction", "p_w", "q_var"),
    [
        (0.9, "absorbing", 5000.0, -5000.0 * math.tan(math.acos(0.9))),  # -2421.6 var
        (0.9, "injecting", 5000.0, 5000.0 * math.tan(math.acos(0.9))),
        (0.95, "absorbing", 2000.0, -2000.0 * math.tan(math.acos(0.95))),  # -657.4 var
        (1.0, "absorbing", 5000.0, 0.0),
        (0.9, "absorbing", 0.0, 0.0),
    ],
)
def test_steady_state_follows_active_power(
    pf: float, direction: str, p_w: float, q_var: float
) -> None:
    h = harness(power_factor=pf, direction=direction)
    for _ in range(3):
        pv(h, p_w)
        h.cycle_once()
        assert h.output(SET_Q) == pytest.approx(q_var)
        h.advance(1)
    want = "unity" if q_var == 0 else direction
    assert h.output("pf/State") == want


def test_power_factor_is_held_when_p_changes() -> None:
    h = harness(power_factor=0.9)
    for p_w in (1000.0, 3000.0, 500.0):
        pv(h, p_w)
        h.cycle_once()
        q = h.output(SET_Q)
        assert isinstance(q, float)
        assert p_w / math.hypot(p_w, q) == pytest.approx(0.9)
        h.advance(1)


def test_battery_charging_holds_the_same_sign_of_q() -> None:
    cfg = FixedPowerFactorParams(device="battery_1", power_factor=0.9)
    h = CycleHarness([FixedPowerFactor("pf", 50, cfg, DEVICES)], DEVICES)
    h.set_many({"battery_1/ActivePower": -3000.0, "battery_1/MaxReactivePower": 4000.0})
    h.cycle_once()
    assert h.output("battery_1/SetReactivePower") == pytest.approx(-3000.0 * 0.4843, rel=1e-3)


def test_limited_to_what_the_apparent_power_circle_leaves() -> None:
    h = harness(power_factor=0.8)  # wants 0.75 var per W
    pv(h, 4800.0, max_var=1400.0)  # 5000 VA inverter at 4800 W: sqrt(5000²-4800²) = 1400 var
    h.cycle_once()
    assert h.output(SET_Q) == pytest.approx(-1400.0)
    assert h.output("pf/State") == "limited"
    h.advance(1)
    pv(h, 1000.0, max_var=2200.0)
    h.cycle_once()
    assert h.output(SET_Q) == pytest.approx(-750.0)
    assert h.output("pf/State") == "absorbing"


def test_stale_or_missing_inputs_write_unity() -> None:
    h = harness(power_factor=0.9)
    h.cycle_once()  # nothing measured yet
    assert h.output(SET_Q) == 0.0
    assert h.output("pf/State") == "missing_inputs"
    pv(h, 5000.0)
    h.advance(1)
    h.cycle_once()
    assert h.output(SET_Q) != 0.0
    h.advance(11)  # PV stopped reporting for longer than max_input_age_s (10 s)
    h.cycle_once()
    assert h.output(SET_Q) == 0.0
    assert h.output("pf/State") == "stale_inputs"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"device": PV, "power_factor": 0.0}, "power_factor"),
        ({"device": PV, "power_factor": 1.2}, "power_factor"),
        ({"device": PV, "power_factor": 0.9, "direction": "leading"}, "direction"),
        ({"device": PV, "power_factor": 0.9, "pf": 0.9}, "pf"),
        ({"power_factor": 0.9}, "device"),
    ],
)
def test_bad_params_are_refused_with_the_field_named(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"controllers\[0\]\.params\.{field}"):
        validate_params(FixedPowerFactorParams, params, ("controllers", 0, "params"))


@pytest.mark.parametrize("device", ["grid", "pv_9"])
def test_a_device_without_reactive_power_is_refused(device: str) -> None:
    cfg = FixedPowerFactorParams(device=device, power_factor=0.9)
    with pytest.raises(ValueError, match=r"^device: "):
        FixedPowerFactor("pf", 50, cfg, DEVICES)
