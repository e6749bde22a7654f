"""Battery simulator: setpoint following, energy bookkeeping, SOC bounds and limits."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ems.dal import Sample, Value
from ems.devices.base import SIMULATORS, BalanceRole, SiteContext
from ems.devices.battery import BatteryConfig, BatterySimulator

SITE = SiteContext(
    latitude_deg=52.52, longitude_deg=13.405, altitude_m=34.0, timezone="Europe/Berlin"
)
T0 = 1_781_827_200.0  # 2026-06-19T00:00:00Z
ETA = 0.95


def input_channels(profile: str) -> dict[str, Any]:
    text = resources.files("ems.profiles").joinpath(f"{profile}.json").read_text("utf-8")
    channels: dict[str, Any] = json.loads(text)["channels"]
    return {
        name: spec
        for name, spec in channels.items()
        if spec["category"] == "input" and not spec.get("optional", False)
    }


def make(**config: Any) -> BatterySimulator:
    return BatterySimulator("battery_1", BatteryConfig(**config), SITE)


def command(power_w: float | None, ts: float) -> dict[str, Sample]:
    return {"SetActivePower": Sample(power_w, ts)}


def hold(battery: BatterySimulator, power_w: float, steps: int, t0: float = T0) -> dict[str, Value]:
    """Step every second for ``steps`` s after a first step at ``t0``, commanding ``power_w``."""
    out = battery.step(t0, 0.0, command(power_w, t0))
    for k in range(1, steps + 1):
        t = t0 + k
        out = battery.step(t, 1.0, command(power_w, t))
    return out


def num(value: Value) -> float:
    assert isinstance(value, int | float)
    return float(value)


def test_registered_by_type_name_as_storage() -> None:
    assert SIMULATORS.get("battery") is BatterySimulator
    assert BatterySimulator.balance_role is BalanceRole.STORAGE
    assert BatterySimulator.config_model is BatteryConfig


def test_publishes_exactly_the_profile_inputs_within_their_ranges() -> None:
    specs = input_channels("battery")
    battery = make()
    for out in (battery.step(T0, 0.0, {}), battery.step(T0 + 1, 1.0, command(-2000, T0 + 1))):
        assert set(out) == set(specs)
        for name, spec in specs.items():
            if "enum" in spec:
                assert out[name] in spec["enum"]
            else:
                assert spec.get("min", float("-inf")) <= num(out[name]) <= spec.get("max", 1e12)


def test_capacity_is_the_usable_energy_between_soc_bounds() -> None:
    out = make().step(T0, 0.0, {})
    assert out["Capacity"] == pytest.approx(10_000 * (95 - 10) / 100)


def test_follows_a_setpoint_within_limits_and_integrates_the_previous_interval() -> None:
    battery = make()
    first = battery.step(T0, 0.0, command(-2000, T0))
    assert first["ActivePower"] == -2000
    assert first["State"] == "charging"
    assert first["Soc"] == 50.0  # nothing has flowed yet
    second = battery.step(T0 + 10, 10.0, command(1500, T0 + 10))
    assert second["ActivePower"] == 1500
    assert second["State"] == "discharging"
    # The 10 s just ended ran at -2000 W: 2000 * 0.95 * 10 / 3600 Wh went into the cells.
    assert num(second["Soc"]) == pytest.approx(50.0 + 2000 * ETA * 10 / 3600 / 10_000 * 100)
    assert num(second["ActiveChargeEnergy"]) == pytest.approx(2000 * 10 / 3600)
    assert second["ActiveDischargeEnergy"] == 0.0


@pytest.mark.parametrize(("wanted", "applied"), [(9000, 5000), (-9000, -5000), (0, 0)])
def test_setpoint_beyond_rating_is_clamped(wanted: float, applied: float) -> None:
    out = make().step(T0, 0.0, command(wanted, T0))
    assert out["ActivePower"] == applied


def test_charge_energy_times_efficiency_equals_stored_energy() -> None:
    battery = make()
    before = battery.energy_wh
    out = hold(battery, -3000, 3600)
    charged = num(out["ActiveChargeEnergy"])
    assert charged == pytest.approx(3000.0, rel=1e-9)
    assert battery.energy_wh - before == pytest.approx(charged * ETA, rel=1e-6)
    assert num(out["Soc"]) == pytest.approx(50 + 3000 * ETA / 100, rel=1e-9)


def test_discharge_energy_divided_by_efficiency_equals_drawn_energy() -> None:
    battery = make()
    before = battery.energy_wh
    out = hold(battery, 2500, 3600)
    delivered = num(out["ActiveDischargeEnergy"])
    assert delivered == pytest.approx(2500.0, rel=1e-9)
    assert before - battery.energy_wh == pytest.approx(delivered / ETA, rel=1e-6)


def test_constant_charge_reaches_max_soc_in_finite_time_then_stops() -> None:
    battery = make(initial_soc_pct=80.0)
    out = battery.step(T0, 0.0, command(-3000, T0))
    steps = 0
    while out["ActivePower"] != 0:
        steps += 1
        assert steps < 4 * 3600, "never reached full"
        t = T0 + steps
        out = battery.step(t, 1.0, command(-3000, t))
    assert out["Soc"] == 95.0
    assert out["MaxChargePower"] == 0.0
    assert out["State"] == "full"
    assert num(out["MaxDischargePower"]) > 0
    # and it stays there
    for k in range(1, 100):
        t = T0 + steps + k
        later = battery.step(t, 1.0, command(-3000, t))
        assert later["ActivePower"] == 0.0
        assert later["Soc"] == 95.0


def test_constant_discharge_reaches_min_soc_in_finite_time_then_stops() -> None:
    battery = make(initial_soc_pct=20.0)
    out = battery.step(T0, 0.0, command(3000, T0))
    steps = 0
    while out["ActivePower"] != 0:
        steps += 1
        assert steps < 4 * 3600, "never reached empty"
        t = T0 + steps
        out = battery.step(t, 1.0, command(3000, t))
    assert out["Soc"] == 10.0
    assert out["MaxDischargePower"] == 0.0
    assert out["State"] == "empty"


def test_limits_derate_linearly_in_the_band_before_a_bound() -> None:
    # Band 90..95 % for charging, 10..15 % for discharging; floor 10 % of rated.
    mid = make(initial_soc_pct=50.0).step(T0, 0.0, {})
    assert mid["MaxChargePower"] == 5000.0
    assert mid["MaxDischargePower"] == 5000.0
    near_full = make(initial_soc_pct=92.5).step(T0, 0.0, {})
    assert near_full["MaxChargePower"] == pytest.approx(5000 * (0.1 + 0.9 * 0.5))
    assert near_full["MaxDischargePower"] == 5000.0
    near_empty = make(initial_soc_pct=12.5).step(T0, 0.0, {})
    assert near_empty["MaxDischargePower"] == pytest.approx(5000 * (0.1 + 0.9 * 0.5))
    limits = [
        num(make(initial_soc_pct=s).step(T0, 0.0, {})["MaxChargePower"]) for s in (90, 92, 94, 95)
    ]
    assert limits == sorted(limits, reverse=True)
    assert limits[-1] == 0.0


def test_limit_never_exceeds_what_reaches_the_bound_within_one_step() -> None:
    battery = make(initial_soc_pct=94.999)  # 0.1 Wh of room: less than the derated floor in 1 s
    out = battery.step(T0, 0.0, command(-5000, T0))
    assert num(out["MaxChargePower"]) == pytest.approx(0.1 * 3600 / ETA, rel=1e-6)
    assert num(out["MaxChargePower"]) < 5000 * 0.1
    assert out["ActivePower"] == -num(out["MaxChargePower"])
    # One nominal step at that power lands exactly on the bound.
    after = battery.step(T0 + 1, 1.0, command(-5000, T0 + 1))
    assert after["Soc"] == 95.0
    assert after["ActivePower"] == 0.0


def test_stale_missing_or_empty_setpoint_falls_back_to_zero() -> None:
    battery = make()
    assert battery.step(T0, 0.0, command(-2000, T0 - 10.0))["ActivePower"] == -2000  # 10 s: fresh
    assert battery.step(T0, 0.0, command(-2000, T0 - 10.5))["ActivePower"] == 0.0
    assert battery.step(T0, 0.0, command(None, T0))["ActivePower"] == 0.0
    assert battery.step(T0, 0.0, {})["ActivePower"] == 0.0
    assert battery.step(T0, 0.0, {"SetActivePower": Sample("x", T0)})["ActivePower"] == 0.0


def test_setpoint_timeout_is_configurable() -> None:
    battery = make(setpoint_timeout_s=60.0)
    assert battery.step(T0, 0.0, command(1000, T0 - 30.0))["ActivePower"] == 1000


def test_a_long_step_stops_at_the_bound_and_counts_only_what_was_stored() -> None:
    battery = make(initial_soc_pct=94.0)  # 100 Wh of room, limit ~ 100 Wh in 1 s
    first = battery.step(T0, 0.0, command(-3000, T0))
    assert num(first["ActivePower"]) < 0
    out = battery.step(T0 + 3600, 3600.0, command(-3000, T0 + 3600))
    assert out["Soc"] == 95.0
    assert num(out["ActiveChargeEnergy"]) * ETA == pytest.approx(100.0, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(min_value=10.0, max_value=95.0),
    st.lists(
        st.tuples(
            st.floats(min_value=-8000, max_value=8000, allow_nan=False),
            st.sampled_from([0.1, 0.5, 1.0, 1.0, 1.0, 5.0, 60.0]),
        ),
        min_size=1,
        max_size=300,
    ),
)
def test_soc_stays_within_bounds_and_energy_balances(
    initial: float, plan: list[tuple[float, float]]
) -> None:
    battery = make(initial_soc_pct=initial)
    start_wh = battery.energy_wh
    t = T0
    out = battery.step(t, 0.0, {})
    charged_before = 0.0
    for power_w, dt_s in plan:
        t += dt_s
        out = battery.step(t, dt_s, command(power_w, t))
        soc = num(out["Soc"])
        assert 10.0 <= soc <= 95.0
        assert (
            -num(out["MaxChargePower"]) <= num(out["ActivePower"]) <= num(out["MaxDischargePower"])
        )
        assert num(out["ActiveChargeEnergy"]) >= charged_before
        charged_before = num(out["ActiveChargeEnergy"])
    stored = num(out["ActiveChargeEnergy"]) * ETA - num(out["ActiveDischargeEnergy"]) / ETA
    assert battery.energy_wh - start_wh == pytest.approx(stored, abs=1e-6)


def test_same_inputs_give_same_outputs() -> None:
    a, b = make(), make()
    assert hold(a, -1234.5, 500) == hold(b, -1234.5, 500)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"efficiency": 0.0}, "efficiency"),
        ({"efficiency": 1.2}, "efficiency"),
        ({"max_charge_power_w": -1.0}, "max_charge_power_w"),
        ({"capacity_wh": 0.0}, "capacity_wh"),
        ({"min_soc_pct": 60.0, "max_soc_pct": 50.0}, "min_soc_pct"),
        ({"initial_soc_pct": 99.0}, "initial_soc_pct"),
        ({"capacity_kwh": 10.0}, "capacity_kwh"),
    ],
)
def test_invalid_config_is_refused_naming_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        BatteryConfig(**config)


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        BatteryConfig().capacity_wh = 1.0


@pytest.mark.parametrize("power_w", [-3000.0, 4000.0])
def test_stepped_every_minute_the_reported_power_flows_for_the_whole_step(power_w: float) -> None:
    """At a 60 s cycle, power × step is the energy that moved, up to the bound and at it."""
    battery = make(initial_soc_pct=50.0)
    out = battery.step(T0, 0.0, command(power_w, T0))
    reported_wh = 0.0
    for k in range(1, 4 * 60):  # four hours: long enough to reach the bound
        reported_wh += abs(float(out["ActivePower"])) * 60.0 / 3600.0  # type: ignore[arg-type]
        t = T0 + 60.0 * k
        out = battery.step(t, 60.0, command(power_w, t))
    counter = "ActiveChargeEnergy" if power_w < 0 else "ActiveDischargeEnergy"
    assert out["State"] == ("full" if power_w < 0 else "empty")
    assert float(out[counter]) == pytest.approx(reported_wh, rel=1e-9)  # type: ignore[arg-type]


def test_stepped_every_minute_a_setpoint_from_the_last_cycle_is_followed() -> None:
    """The watchdog is at least two steps: a 60 s cycle's setpoint is a minute old when seen."""
    battery = make()
    battery.step(T0, 0.0, {})
    assert battery.step(T0 + 60, 60.0, command(-2000.0, T0))["ActivePower"] == -2000.0
    assert battery.step(T0 + 120, 60.0, command(-2000.0, T0))["ActivePower"] == -2000.0
    assert battery.step(T0 + 180, 60.0, command(-2000.0, T0))["ActivePower"] == 0.0, "stale"
