"""Volt-var as cycle tables: set the grid voltage, advance time, expect SetReactivePower."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ems.edge.config import validate_params
from ems.edge.controllers.volt_var import VoltVar, VoltVarParams
from ems.edge.testing import CycleHarness, devices_of
from ems.errors import ConfigError

PV = "pv_1"
SET_Q = f"{PV}/SetReactivePower"
S_VA = 5000.0
DEVICES = devices_of({"battery_1": "battery", PV: "pv_inverter", "grid": "grid_meter"})


def harness(**params: Any) -> CycleHarness:
    cfg = validate_params(VoltVarParams, {"device": PV, **params}, ("params",))
    return CycleHarness([VoltVar("vv", 60, cfg, DEVICES)], DEVICES)


def measure(h: CycleHarness, voltage_v: float, max_var: float = S_VA) -> None:
    h.set_many(
        {
            "grid/Voltage": voltage_v,
            f"{PV}/RatedApparentPower": S_VA,
            f"{PV}/MaxReactivePower": max_var,
        }
    )


def q_at(h: CycleHarness, voltage_v: float) -> float:
    measure(h, voltage_v)
    h.cycle_once()
    h.advance(1)
    q = h.output(SET_Q)
    assert isinstance(q, float)
    return q


def test_nominal_voltage_gives_no_reactive_power() -> None:
    h = harness()
    for _ in range(10):
        assert q_at(h, 230.0) == 0.0
    assert h.output("vv/State") == "deadband"


# IEEE 1547-2018 Table 8, category B: (0.92 pu, +44 %), (0.98, 0), (1.02, 0), (1.08, -44 %).
@pytest.mark.parametrize(
    ("v_pu", "q_pct"),
    [
        (0.85, 44.0),  # held beyond the first point
        (0.92, 44.0),
        (0.95, 22.0),  # halfway between V1 and V2
        (0.98, 0.0),
        (1.00, 0.0),
        (1.02, 0.0),
        (1.05, -22.0),
        (1.08, -44.0),
        (1.12, -44.0),  # held beyond the last point
    ],
)
def test_category_b_curve_points_and_interpolation(v_pu: float, q_pct: float) -> None:
    h = harness(response_time_s=0)
    assert q_at(h, 230.0 * v_pu) == pytest.approx(q_pct / 100.0 * S_VA)
    want = "injecting" if q_pct > 0 else "absorbing" if q_pct < 0 else "deadband"
    assert h.output("vv/State") == want


def test_custom_curve_and_nominal_voltage() -> None:
    curve = [{"v_pu": 0.95, "q_pct": 30}, {"v_pu": 1.05, "q_pct": -30}]
    h = harness(curve=curve, nominal_voltage_v=120.0, response_time_s=0)
    assert q_at(h, 120.0) == pytest.approx(0.0)
    assert q_at(h, 123.0) == pytest.approx(-0.15 * S_VA)  # 1.025 pu


def test_open_loop_response_time_reaches_90_percent() -> None:
    h = harness(response_time_s=5)
    q_at(h, 230.0)  # settled at 0 var
    target = -0.44 * S_VA  # a swell to 1.08 pu
    seen = [q_at(h, 1.08 * 230.0) for _ in range(6)]  # 1 s .. 6 s after the step
    assert seen[0] == pytest.approx(target * (1 - 10 ** (-1 / 5)))  # 1 s of the lag
    assert all(b < a for a, b in itertools.pairwise(seen)), "moves steadily"
    assert seen[4] == pytest.approx(0.9 * target)  # 5 s after the step
    for _ in range(30):
        last = q_at(h, 1.08 * 230.0)
    assert last == pytest.approx(target, rel=1e-3)


def test_response_follows_cycle_time_not_cycle_count() -> None:
    h = harness(response_time_s=5)
    q_at(h, 230.0)
    measure(h, 1.08 * 230.0)
    h.advance(4)  # one cycle after a 5 s gap
    h.cycle_once()
    assert h.output(SET_Q) == pytest.approx(0.9 * -0.44 * S_VA)


def test_limited_to_max_reactive_power() -> None:
    h = harness(response_time_s=0)
    measure(h, 0.90 * 230.0, max_var=1000.0)  # full sun: the circle leaves 1000 var
    h.cycle_once()
    assert h.output(SET_Q) == 1000.0
    assert h.output("vv/State") == "limited"


def test_stale_or_missing_voltage_writes_zero_and_says_why() -> None:
    h = harness(response_time_s=0)
    h.cycle_once()
    assert h.output(SET_Q) == 0.0
    assert h.output("vv/State") == "missing_inputs"
    assert q_at(h, 1.08 * 230.0) == pytest.approx(-0.44 * S_VA)
    h.set_many({f"{PV}/RatedApparentPower": S_VA, f"{PV}/MaxReactivePower": S_VA})
    h.advance(10)  # the meter's Voltage is now 11 s old
    h.cycle_once()
    assert h.output(SET_Q) == 0.0
    assert h.output("vv/State") == "stale_inputs"


def test_after_stale_inputs_the_response_starts_again_from_zero() -> None:
    h = harness(response_time_s=5)
    for _ in range(40):
        q_at(h, 1.08 * 230.0)
    h.advance(20)
    h.cycle_once()  # stale
    assert h.output(SET_Q) == 0.0
    assert q_at(h, 1.08 * 230.0) == 0.0  # first fresh cycle: the lag starts at 0
    assert q_at(h, 1.08 * 230.0) == pytest.approx(-0.44 * S_VA * (1 - 10 ** (-1 / 5)))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"curve": [{"v_pu": 0.98, "q_pct": 0}, {"v_pu": 0.92, "q_pct": 44}]}, "curve"),
        ({"curve": [{"v_pu": 0.92, "q_pct": -44}, {"v_pu": 1.08, "q_pct": 44}]}, "curve"),
        ({"curve": [{"v_pu": 1.0, "q_pct": 0}]}, "curve"),
        ({"curve": [{"v_pu": 0.9, "q_pct": 150}, {"v_pu": 1.1, "q_pct": 0}]}, r"curve\[0\]\.q_pct"),
        ({"curve": [{"v": 0.9, "q_pct": 0}, {"v_pu": 1.1, "q_pct": 0}]}, r"curve\[0\]\.v"),
        ({"nominal_voltage_v": -230}, "nominal_voltage_v"),
        ({"response_time_s": -1}, "response_time_s"),
        ({"response_time_s": 120}, "response_time_s"),
        ({"nominal_voltage": 230}, "nominal_voltage"),
    ],
)
def test_bad_params_are_refused_with_the_field_named(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"controllers\[0\]\.params\.{field}"):
        validate_params(VoltVarParams, {"device": PV, **params}, ("controllers", 0, "params"))


def test_a_site_without_a_voltage_source_is_refused() -> None:
    devices = devices_of({PV: "pv_inverter"})
    with pytest.raises(ValueError, match=r"^voltage_device: "):
        VoltVar("vv", 60, VoltVarParams(device=PV), devices)
    with pytest.raises(ValueError, match=r"^voltage_device: "):
        VoltVar("vv", 60, VoltVarParams(device=PV, voltage_device="grid"), devices)
