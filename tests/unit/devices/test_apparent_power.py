"""Reactive power of the inverter simulators: the setpoint, its limits and the VA circle."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from ems.dal import Sample, Value
from ems.devices.apparent_power import ApparentPower, Priority
from ems.devices.base import SiteContext
from ems.devices.battery import BatteryConfig, BatterySimulator
from ems.devices.pv_inverter import PvInverterConfig, PvInverterSimulator
from ems.profiles import builtin_profiles

SITE = SiteContext(
    latitude_deg=52.52, longitude_deg=13.405, altitude_m=34.0, timezone="Europe/Berlin"
)
T0 = 1_781_827_200.0  # 2026-06-19T00:00:00Z
NOON = T0 + 11 * 3600.0  # solar noon in Berlin is near 11:07 UTC


def num(value: Value) -> float:
    assert isinstance(value, int | float)
    return float(value)


def battery(**config: Any) -> BatterySimulator:
    return BatterySimulator("battery_1", BatteryConfig(**config), SITE)


def setpoints(ts: float, p_w: float | None = None, q_var: float | None = None) -> dict[str, Sample]:
    out = {}
    if p_w is not None:
        out["SetActivePower"] = Sample(p_w, ts)
    if q_var is not None:
        out["SetReactivePower"] = Sample(q_var, ts)
    return out


def test_circle_with_active_priority_gives_q_what_p_leaves() -> None:
    rating = ApparentPower(5000.0, 5000.0, Priority.ACTIVE)
    assert rating.share(3000.0, 4000.0) == (3000.0, 4000.0)  # exactly on the circle
    p, q = rating.share(4000.0, -4000.0)
    assert p == 4000.0
    assert q == pytest.approx(-3000.0)
    assert rating.available_var(4000.0) == pytest.approx(3000.0)
    assert rating.share(6000.0, 1000.0) == (5000.0, 0.0)  # P alone fills the rating


def test_circle_with_reactive_priority_curtails_p() -> None:
    rating = ApparentPower(5000.0, 2200.0, Priority.REACTIVE)
    p, q = rating.share(-5000.0, 9000.0)  # Q limited to max_var first
    assert q == 2200.0
    assert p == pytest.approx(-math.sqrt(5000.0**2 - 2200.0**2))
    assert rating.available_var(5000.0) == 2200.0


def test_battery_without_reactive_setpoint_is_unchanged() -> None:
    b = battery()
    out = b.step(T0, 0.0, setpoints(T0, p_w=5000.0))
    assert out["ActivePower"] == 5000.0
    assert out["ReactivePower"] == 0.0
    assert out["RatedApparentPower"] == 5000.0
    assert out["MaxReactivePower"] == 0.0  # at full P the circle leaves no Q


def test_battery_follows_reactive_setpoint_within_category_b_default() -> None:
    b = battery()
    out = b.step(T0, 0.0, setpoints(T0, p_w=0.0, q_var=1500.0))
    assert out["ReactivePower"] == 1500.0
    assert out["MaxReactivePower"] == pytest.approx(0.44 * 5000.0)
    out = b.step(T0 + 1, 1.0, setpoints(T0 + 1, p_w=0.0, q_var=-4000.0))
    assert out["ReactivePower"] == pytest.approx(-2200.0)  # 44 % of 5000 VA
    assert out["Soc"] == pytest.approx(50.0), "reactive power moves no energy"


@pytest.mark.parametrize(
    ("priority", "p_w", "q_var"),
    [("active", 4000.0, 3000.0), ("reactive", 3000.0, 4000.0)],
)
def test_battery_apparent_power_circle(priority: str, p_w: float, q_var: float) -> None:
    b = battery(
        rated_apparent_power_va=5000.0, max_reactive_power_var=4000.0, reactive_priority=priority
    )
    out = b.step(T0, 0.0, setpoints(T0, p_w=4000.0, q_var=4000.0))
    assert num(out["ActivePower"]) == pytest.approx(p_w)
    assert num(out["ReactivePower"]) == pytest.approx(q_var)
    assert math.hypot(num(out["ActivePower"]), num(out["ReactivePower"])) <= 5000.0 + 1e-9


def test_stale_reactive_setpoint_falls_back_to_zero() -> None:
    b = battery(setpoint_timeout_s=10.0)
    sent = setpoints(T0, q_var=1000.0)
    for k in range(11):  # stepped every second, the setpoint never refreshed
        out = b.step(T0 + k, 1.0 if k else 0.0, sent)
        assert out["ReactivePower"] == 1000.0
    out = b.step(T0 + 11, 1.0, sent)
    assert out["ReactivePower"] == 0.0


def test_bad_reactive_params_are_refused() -> None:
    with pytest.raises(ValidationError, match="rated_apparent_power_va"):
        BatteryConfig(rated_apparent_power_va=-1.0)
    with pytest.raises(ValidationError, match="reactive_priority"):
        BatteryConfig(reactive_priority="both")


def pv(**config: Any) -> PvInverterSimulator:
    return PvInverterSimulator("pv_1", PvInverterConfig(**config), SITE)


def test_pv_at_full_sun_has_no_room_for_q_with_active_priority() -> None:
    sim = pv(peak_power_w=10_000.0, inverter_max_power_w=5000.0)  # clipped at 5 kW
    out = sim.step(NOON, 0.0, {"SetReactivePower": Sample(-2000.0, NOON)})
    assert out["ActivePower"] == pytest.approx(5000.0)
    assert out["ReactivePower"] == pytest.approx(0.0)
    assert out["MaxReactivePower"] == pytest.approx(0.0)


def test_pv_with_reactive_priority_curtails_to_absorb() -> None:
    sim = pv(peak_power_w=10_000.0, inverter_max_power_w=5000.0, reactive_priority="reactive")
    out = sim.step(NOON, 0.0, {"SetReactivePower": Sample(-2000.0, NOON)})
    assert out["ReactivePower"] == -2000.0
    assert num(out["ActivePower"]) == pytest.approx(math.sqrt(5000.0**2 - 2000.0**2))
    s_va = math.hypot(num(out["ActivePower"]), num(out["ReactivePower"]))
    assert num(out["Current"]) == pytest.approx(s_va / num(out["Voltage"]))


def test_pv_oversized_inverter_gives_q_beside_full_p() -> None:
    sim = pv(peak_power_w=10_000.0, inverter_max_power_w=5000.0, rated_apparent_power_va=6000.0)
    out = sim.step(NOON, 0.0, {"SetReactivePower": Sample(2000.0, NOON)})
    assert out["ActivePower"] == pytest.approx(5000.0)
    assert out["ReactivePower"] == 2000.0
    assert out["MaxReactivePower"] == pytest.approx(0.44 * 6000.0)  # below the circle's 3317 var


@pytest.mark.parametrize("profile", ["battery", "pv_inverter"])
def test_profiles_declare_reactive_power(profile: str) -> None:
    channels = builtin_profiles()[profile].channels
    units = {name: (c.category.value, c.unit) for name, c in channels.items()}
    assert units["ReactivePower"] == ("input", "var")
    assert units["MaxReactivePower"] == ("input", "var")
    assert units["RatedApparentPower"] == ("input", "VA")
    assert units["SetReactivePower"] == ("output", "var")
    assert channels["SetReactivePower"].default == 0
