"""Load meter simulator: annual energy, daily and weekly shapes, local time and determinism."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from ems.dal import Value
from ems.devices.base import SIMULATORS, BalanceRole, SiteContext
from ems.devices.load_meter import LoadMeterConfig, LoadMeterSimulator
from ems.devices.load_meter.local_day import local_day

SITE = SiteContext(
    latitude_deg=52.52, longitude_deg=13.405, altitude_m=34.0, timezone="Europe/Berlin"
)
BERLIN = ZoneInfo("Europe/Berlin")
YEAR_START = dt.datetime(2026, 1, 1, tzinfo=BERLIN).timestamp()
YEAR_END = dt.datetime(2027, 1, 1, tzinfo=BERLIN).timestamp()


def input_channels(profile: str) -> dict[str, Any]:
    text = resources.files("ems.profiles").joinpath(f"{profile}.json").read_text("utf-8")
    channels: dict[str, Any] = json.loads(text)["channels"]
    return {name: spec for name, spec in channels.items() if spec["category"] == "input"}


def make(**config: Any) -> LoadMeterSimulator:
    return LoadMeterSimulator("load", LoadMeterConfig(**config), SITE)


def num(value: Value) -> float:
    assert isinstance(value, int | float)
    return float(value)


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> float:
    return dt.datetime(y, m, d, hh, mm, tzinfo=BERLIN).timestamp()


def year_run(sim: LoadMeterSimulator, dt_s: int = 120) -> tuple[float, float]:
    """Step through 2026 (local time); return the energy counter (Wh) and the lowest power."""
    t = YEAR_START
    out = sim.step(t, 0.0, {})
    lowest = num(out["ActivePower"])
    while t < YEAR_END:
        t += dt_s
        out = sim.step(t, float(dt_s), {})
        lowest = min(lowest, num(out["ActivePower"]))
    return num(out["ActiveEnergy"]), lowest


def test_registered_by_type_name_as_consumption() -> None:
    assert SIMULATORS.get("load_meter") is LoadMeterSimulator
    assert LoadMeterSimulator.balance_role is BalanceRole.CONSUMPTION


def test_publishes_exactly_the_profile_inputs() -> None:
    out = make().step(local(2026, 6, 19, 12), 0.0, {})
    assert set(out) == set(input_channels("load_meter"))


@pytest.mark.parametrize(
    ("profile", "annual_kwh", "noise"),
    [("residential", 4500.0, 0.15), ("commercial", 30_000.0, 0.5)],
)
def test_a_year_consumes_the_annual_energy_and_never_goes_negative(
    profile: str, annual_kwh: float, noise: float
) -> None:
    sim = make(profile=profile, annual_energy_kwh=annual_kwh, noise_fraction=noise, seed=3)
    energy_wh, lowest_w = year_run(sim)
    assert energy_wh / 1000 == pytest.approx(annual_kwh, rel=0.02)
    assert lowest_w >= 0.0


def test_residential_evening_exceeds_night() -> None:
    sim = make()
    days = range(15, 22)
    evening = sum(sim.power_w(local(2026, 3, d, 19)) for d in days)
    night = sum(sim.power_w(local(2026, 3, d, 3)) for d in days)
    assert evening > 2.5 * night


def test_residential_follows_local_wall_clock_across_dst() -> None:
    # 19:00 local is 18:00 UTC in winter and 17:00 UTC in summer: the peak moves with it.
    sim = make(noise_fraction=0.0)
    for day in (dt.date(2026, 1, 14), dt.date(2026, 7, 15)):
        hours = [sim.power_w(local(day.year, day.month, day.day, h)) for h in range(24)]
        assert max(range(24), key=hours.__getitem__) == 19


def test_commercial_weekday_noon_exceeds_weekend_noon() -> None:
    sim = make(profile="commercial")
    weekdays = [sim.power_w(local(2026, 6, d, 12)) for d in (15, 16, 17, 18, 19)]  # Mon-Fri
    weekend = [sim.power_w(local(2026, 6, d, 12)) for d in (20, 21)]  # Sat, Sun
    assert min(weekdays) > 2 * max(weekend)


def test_winter_consumes_more_than_summer() -> None:
    sim = make()
    jan = sum(sim.power_w(local(2026, 1, 12, 0) + k * 600) for k in range(7 * 144))
    jul = sum(sim.power_w(local(2026, 7, 13, 0) + k * 600) for k in range(7 * 144))
    assert jan > jul


def test_deterministic_for_seed_and_independent_of_step_rate() -> None:
    start = local(2026, 6, 19, 0)
    a, b, c = make(seed=5), make(seed=5), make(seed=6)
    times = [start + k for k in range(0, 86_400, 13)]
    series_a = [num(a.step(t, 13.0, {})["ActivePower"]) for t in times]
    series_b = [b.power_w(t) for t in reversed(times)][::-1]  # other order, fresh cache misses
    assert series_a == series_b
    assert [c.power_w(t) for t in times] != series_a


def test_energy_integrates_the_power_of_the_previous_interval() -> None:
    sim = make()
    t = local(2026, 6, 19, 12)
    first = sim.step(t, 0.0, {})
    second = sim.step(t + 60, 60.0, {})
    assert first["ActiveEnergy"] == 0.0
    assert num(second["ActiveEnergy"]) == pytest.approx(num(first["ActivePower"]) * 60 / 3600)


def test_local_day_handles_dst_switches() -> None:
    spring = local_day(dt.datetime(2026, 3, 29, 12, tzinfo=BERLIN).timestamp(), BERLIN)
    assert spring.end_s - spring.start_s == 23 * 3600
    assert spring.wall_s(local(2026, 3, 29, 3, 30)) == 3.5 * 3600
    autumn = local_day(dt.datetime(2026, 10, 25, 12, tzinfo=BERLIN).timestamp(), BERLIN)
    assert autumn.end_s - autumn.start_s == 25 * 3600
    assert autumn.wall_s(local(2026, 10, 25, 18)) == 18 * 3600
    plain = local_day(local(2026, 6, 19, 9), BERLIN)
    assert plain.wall_s(local(2026, 6, 19, 9, 15)) == 9.25 * 3600


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"annual_energy_kwh": 0.0}, "annual_energy_kwh"),
        ({"profile": "industrial"}, "profile"),
        ({"noise_fraction": -0.1}, "noise_fraction"),
    ],
)
def test_invalid_config_is_refused_naming_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        LoadMeterConfig(**config)
