"""PV inverter simulator: solar geometry, clipping, clouds, curtailment and energy."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from typing import Any

import pytest
from pydantic import ValidationError

from ems.dal import Sample, Value
from ems.devices.base import SIMULATORS, BalanceRole, SiteContext, setpoint_timeout_s
from ems.devices.pv_inverter import PvInverterConfig, PvInverterSimulator, solar

SITE = SiteContext(
    latitude_deg=52.52, longitude_deg=13.405, altitude_m=34.0, timezone="Europe/Berlin"
)
SUMMER = 1_781_827_200.0  # 2026-06-19T00:00:00Z
WINTER = 1_797_724_800.0  # 2026-12-20T00:00:00Z
DAY_S = 86_400
# Mean solar noon at the site's longitude (the equation of time is ~ -1 min in June).
SOLAR_NOON_S = SUMMER + 43_200 - SITE.longitude_deg * 240


def input_channels(profile: str) -> dict[str, Any]:
    text = resources.files("ems.profiles").joinpath(f"{profile}.json").read_text("utf-8")
    channels: dict[str, Any] = json.loads(text)["channels"]
    return {name: spec for name, spec in channels.items() if spec["category"] == "input"}


def make(**config: Any) -> PvInverterSimulator:
    return PvInverterSimulator("pv_1", PvInverterConfig(**config), SITE)


def num(value: Value) -> float:
    assert isinstance(value, int | float)
    return float(value)


def run_day(sim: PvInverterSimulator, start_s: float = SUMMER, dt_s: int = 1) -> list[float]:
    """ActivePower at each step of one day; the returned energy check uses the sim's counter."""
    return [
        num(sim.step(start_s + k, float(dt_s) if k else 0.0, {})["ActivePower"])
        for k in range(0, DAY_S, dt_s)
    ]


@pytest.fixture(scope="module")
def clear_day() -> tuple[list[float], float]:
    """A clear summer day stepped every second (86,400 steps): powers and energy in Wh."""
    sim = make()
    powers = run_day(sim)
    energy = num(sim.step(SUMMER + DAY_S, 1.0, {})["ActiveEnergy"])
    return powers, energy


def test_registered_by_type_name_as_generation() -> None:
    assert SIMULATORS.get("pv_inverter") is PvInverterSimulator
    assert PvInverterSimulator.balance_role is BalanceRole.GENERATION


def test_publishes_exactly_the_profile_inputs_within_their_ranges() -> None:
    specs = input_channels("pv_inverter")
    sim = make()
    for t in (SUMMER, SOLAR_NOON_S):
        out = sim.step(t, 0.0, {})
        assert set(out) == set(specs)
        for name, spec in specs.items():
            assert spec.get("min", float("-inf")) <= num(out[name])


def test_zero_at_night_and_never_above_the_inverter_rating(
    clear_day: tuple[list[float], float],
) -> None:
    powers, _ = clear_day
    assert powers[0] == 0.0  # 02:00 local
    assert powers[2 * 3600] == 0.0  # 04:00 local, before sunrise (~04:45)
    assert powers[21 * 3600] == 0.0  # 23:00 local
    assert min(powers) == 0.0
    assert max(powers) <= 8000.0


def test_night_channels_are_exactly_zero() -> None:
    out = make(cloudiness=0.7).step(SUMMER, 0.0, {})
    assert out["ActivePower"] == 0.0
    assert out["AvailablePower"] == 0.0
    assert out["Current"] == 0.0


def test_peak_is_near_local_solar_noon(clear_day: tuple[list[float], float]) -> None:
    powers, _ = clear_day
    peak_s = SUMMER + max(range(len(powers)), key=powers.__getitem__)
    assert abs(peak_s - SOLAR_NOON_S) < 15 * 60
    assert max(powers) > 5000.0  # a clear June noon delivers most of 8 kWp


def test_clear_summer_day_energy_is_plausible(clear_day: tuple[list[float], float]) -> None:
    powers, energy_wh = clear_day
    assert 30_000 < energy_wh < 70_000
    # The counter integrates the power of each interval just ended.
    assert energy_wh == pytest.approx(sum(powers) / 3600, rel=1e-9)


def test_winter_day_yields_far_less_than_summer(clear_day: tuple[list[float], float]) -> None:
    sim = make()
    run_day(sim, WINTER, dt_s=60)
    winter_wh = num(sim.step(WINTER + DAY_S, 60.0, {})["ActiveEnergy"])
    assert 0 < winter_wh < clear_day[1] / 2


def test_output_is_clipped_at_the_inverter_rating() -> None:
    sim = make(inverter_max_power_w=4000.0)
    powers = run_day(sim, dt_s=60)
    assert max(powers) == 4000.0
    assert sum(p == 4000.0 for p in powers) > 60  # clipped for more than an hour


def test_clouds_are_deterministic_per_seed_and_independent_of_step_rate() -> None:
    fine = make(cloudiness=0.5, seed=7)
    coarse = make(cloudiness=0.5, seed=7)
    times = [SUMMER + 36_000 + k for k in range(0, 3 * 3600, 1)]
    fine_out = [num(fine.step(t, 1.0, {})["AvailablePower"]) for t in times]
    coarse_out = {t: num(coarse.step(t, 7.0, {})["AvailablePower"]) for t in times[::7]}
    assert all(fine_out[i] == coarse_out[t] for i, t in enumerate(times) if t in coarse_out)
    other = make(cloudiness=0.5, seed=8)
    assert [num(other.step(t, 1.0, {})["AvailablePower"]) for t in times] != fine_out


def test_clouds_reduce_output_and_seed_is_irrelevant_under_clear_sky(
    clear_day: tuple[list[float], float],
) -> None:
    cloudy = make(cloudiness=0.6, seed=1)
    run_day(cloudy, dt_s=60)
    cloudy_wh = num(cloudy.step(SUMMER + DAY_S, 60.0, {})["ActiveEnergy"])
    assert cloudy_wh < 0.9 * clear_day[1]
    assert run_day(make(seed=1), dt_s=600) == run_day(make(seed=2), dt_s=600)


def test_curtailment_caps_active_power_but_not_available_power() -> None:
    sim = make()
    free = sim.step(SOLAR_NOON_S, 0.0, {})
    limit = {"SetActivePowerLimit": Sample(1000.0, SOLAR_NOON_S)}
    capped = sim.step(SOLAR_NOON_S, 0.0, limit)
    assert num(free["ActivePower"]) > 1000.0
    assert capped["ActivePower"] == 1000.0
    assert capped["AvailablePower"] == free["AvailablePower"]
    assert num(capped["Current"]) == pytest.approx(1000.0 / num(capped["Voltage"]))
    zero = sim.step(SOLAR_NOON_S, 0.0, {"SetActivePowerLimit": Sample(0, SOLAR_NOON_S)})
    assert zero["ActivePower"] == 0.0


@pytest.mark.parametrize(
    "sample",
    [
        Sample(None, SOLAR_NOON_S),  # released
        Sample(1000.0, SOLAR_NOON_S - 11.0),  # stale
        Sample("oops", SOLAR_NOON_S),  # not a number
    ],
)
def test_released_stale_or_invalid_limit_is_ignored(sample: Sample) -> None:
    out = make().step(SOLAR_NOON_S, 0.0, {"SetActivePowerLimit": sample})
    assert out["ActivePower"] == out["AvailablePower"]
    assert num(out["ActivePower"]) > 1000.0


def test_energy_integrates_the_power_of_the_previous_interval() -> None:
    sim = make()
    first = sim.step(SOLAR_NOON_S, 0.0, {})
    assert first["ActiveEnergy"] == 0.0
    second = sim.step(SOLAR_NOON_S + 10, 10.0, {"SetActivePowerLimit": Sample(0, SOLAR_NOON_S)})
    assert num(second["ActiveEnergy"]) == pytest.approx(num(first["ActivePower"]) * 10 / 3600)


def test_voltage_is_near_nominal_and_current_is_power_over_voltage() -> None:
    out = make().step(SOLAR_NOON_S, 0.0, {})
    assert 225.0 < num(out["Voltage"]) < 240.0
    assert num(out["Current"]) == pytest.approx(num(out["ActivePower"]) / num(out["Voltage"]))


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"peak_power_w": 0.0}, "peak_power_w"),
        ({"tilt_deg": 95.0}, "tilt_deg"),
        ({"azimuth_deg": 360.0}, "azimuth_deg"),
        ({"cloudiness": 1.5}, "cloudiness"),
        ({"inverter_efficiency": 0.0}, "inverter_efficiency"),
        ({"kwp": 8.0}, "kwp"),
    ],
)
def test_invalid_config_is_refused_naming_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        PvInverterConfig(**config)


def test_a_day_computed_in_a_child_process_is_the_same_day() -> None:
    """An edge keeps pvlib out of its own memory; the numbers must not change for it."""
    isolated = PvInverterSimulator("pv_1", PvInverterConfig(), replace(SITE, isolate_models=True))
    inline = make()
    for t in (SOLAR_NOON_S, SOLAR_NOON_S + 3 * 3600 + 17):
        assert isolated.available_w(t) == inline.available_w(t)


def test_a_failing_child_falls_back_to_computing_in_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(solar.sys, "executable", "/nonexistent/python")
    isolated = PvInverterSimulator("pv_1", PvInverterConfig(), replace(SITE, isolate_models=True))
    assert isolated.available_w(SOLAR_NOON_S) == make().available_w(SOLAR_NOON_S)
    assert any("child process failed" in r.getMessage() for r in caplog.records)


def test_stepped_every_minute_a_limit_from_the_last_cycle_still_curtails() -> None:
    assert setpoint_timeout_s(10.0, 1.0) == 10.0, "stepped every second: the configured timeout"
    assert setpoint_timeout_s(10.0, 60.0) == 120.0
    pv = PvInverterSimulator("pv_1", PvInverterConfig(), SITE)
    noon = 1_782_043_200.0  # 2026-06-21T12:00:00Z
    pv.step(noon - 60, 0.0, {})
    out = pv.step(noon, 60.0, {"SetActivePowerLimit": Sample(1000.0, noon - 60)})
    assert out["ActivePower"] == 1000.0
