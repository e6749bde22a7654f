"""Grid meter simulator: closing the balance, unmetered flows, voltage, frequency, energy."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from ems.dal import Value
from ems.devices.base import SIMULATORS, BalanceRole, GridSimulator, SiteContext
from ems.devices.grid_meter import GridMeterConfig, GridMeterSimulator

SITE = SiteContext(
    latitude_deg=52.52, longitude_deg=13.405, altitude_m=34.0, timezone="Europe/Berlin"
)
BERLIN = ZoneInfo("Europe/Berlin")
T0 = 1_781_827_200.0  # 2026-06-19T00:00:00Z


def input_channels(profile: str) -> dict[str, Any]:
    text = resources.files("ems.profiles").joinpath(f"{profile}.json").read_text("utf-8")
    channels: dict[str, Any] = json.loads(text)["channels"]
    return {name: spec for name, spec in channels.items() if spec["category"] == "input"}


def make(**config: Any) -> GridMeterSimulator:
    return GridMeterSimulator("grid", GridMeterConfig(**config), SITE)


def num(value: Value) -> float:
    assert isinstance(value, int | float)
    return float(value)


def local(hh: int, mm: int = 0) -> float:
    return dt.datetime(2026, 6, 19, hh, mm, tzinfo=BERLIN).timestamp()


def test_registered_by_type_name_as_the_grid() -> None:
    assert SIMULATORS.get("grid_meter") is GridMeterSimulator
    assert issubclass(GridMeterSimulator, GridSimulator)
    assert GridMeterSimulator.balance_role is BalanceRole.GRID


def test_step_publishes_exactly_the_profile_inputs_within_their_ranges() -> None:
    specs = input_channels("grid_meter")
    grid = make()
    for k in range(3):
        out = grid.step(T0 + k, 1.0 if k else 0.0, {})
        assert set(out) == set(specs)
        for name, spec in specs.items():
            assert spec.get("min", float("-inf")) <= num(out[name])


@pytest.mark.parametrize("net_w", [0.0, 1234.5, -4321.25, 1e-9, -7.0])
def test_close_balance_is_exact_without_unmetered_flows(net_w: float) -> None:
    out = make().close_balance(T0, net_w)
    assert out["ActivePower"] == net_w


def test_close_balance_adds_the_unmetered_profile_in_local_time() -> None:
    grid = make(unmetered_profile_w=[(0.0, 100.0), (12.0, 300.0)])
    assert grid.unmetered_w(local(6)) == pytest.approx(200.0)
    assert grid.unmetered_w(local(12)) == pytest.approx(300.0)
    assert grid.unmetered_w(local(18)) == pytest.approx(200.0)  # wraps back to 00:00
    for hh, net_w in ((6, 1500.0), (18, -2500.0)):
        t = local(hh)
        assert grid.close_balance(t, net_w)["ActivePower"] == net_w + grid.unmetered_w(t)


def test_a_single_unmetered_point_is_a_constant() -> None:
    grid = make(unmetered_profile_w=[(8.0, -150.0)])
    assert grid.close_balance(local(3), 1000.0)["ActivePower"] == 850.0


def test_voltage_falls_with_import_and_rises_with_export() -> None:
    grid = make(voltage_droop_v_per_kw=0.5)
    grid.step(T0, 0.0, {})
    idle = num(grid.close_balance(T0, 0.0)["Voltage"])
    importing = num(grid.close_balance(T0, 5000.0)["Voltage"])
    exporting = num(grid.close_balance(T0, -5000.0)["Voltage"])
    assert importing < idle < exporting
    assert idle - importing == pytest.approx(2.5)
    assert exporting - idle == pytest.approx(2.5)
    assert 220.0 < idle < 240.0


def test_close_balance_does_not_advance_the_random_state() -> None:
    quiet, busy = make(seed=4), make(seed=4)
    for k in range(200):
        t = T0 + k
        for n in range(5):
            busy.close_balance(t, 100.0 * n)
        busy.close_balance(t, 0.0)
        a = quiet.step(t, 1.0 if k else 0.0, {})
        b = busy.step(t, 1.0 if k else 0.0, {})
        assert a["Frequency"] == b["Frequency"]
        assert a["Voltage"] == b["Voltage"]


def test_frequency_wanders_within_its_band() -> None:
    grid = make(nominal_frequency_hz=50.0, frequency_band_hz=0.05, seed=9)
    freqs = [num(grid.step(T0 + k, 1.0 if k else 0.0, {})["Frequency"]) for k in range(86_400)]
    assert all(49.95 <= f <= 50.05 for f in freqs)
    assert max(freqs) - min(freqs) > 0.02  # it does move
    assert sum(freqs) / len(freqs) == pytest.approx(50.0, abs=0.01)


def test_frequency_nominal_is_configurable() -> None:
    out = make(nominal_frequency_hz=60.0).step(T0, 0.0, {})
    assert 59.95 <= num(out["Frequency"]) <= 60.05


def test_energy_counters_integrate_the_previous_interval() -> None:
    grid = make()
    grid.close_balance(T0, 2000.0)  # the other devices published first
    first = grid.step(T0, 0.0, {})
    assert first["ActivePower"] == 2000.0
    assert first["ActiveEnergyImport"] == 0.0
    grid.close_balance(T0 + 3600, -1000.0)
    second = grid.step(T0 + 3600, 3600.0, {})
    assert second["ActiveEnergyImport"] == pytest.approx(2000.0)  # the hour just ended
    assert second["ActiveEnergyExport"] == 0.0
    assert second["ActivePower"] == -1000.0
    third = grid.step(T0 + 5400, 1800.0, {})
    assert third["ActiveEnergyImport"] == pytest.approx(2000.0)
    assert third["ActiveEnergyExport"] == pytest.approx(500.0)


def test_deterministic_for_equal_seed_and_different_for_another() -> None:
    def series(seed: int) -> list[dict[str, Value]]:
        grid = make(seed=seed)
        return [grid.step(T0 + k, 1.0 if k else 0.0, {}) for k in range(300)]

    assert series(1) == series(1)
    assert series(1) != series(2)


@pytest.mark.parametrize(
    "profile",
    [[(12.0, 1.0), (6.0, 2.0)], [(24.0, 1.0)], [(-1.0, 1.0)], [(3.0, 1.0), (3.0, 2.0)]],
)
def test_invalid_unmetered_profile_is_refused(profile: list[tuple[float, float]]) -> None:
    with pytest.raises(ValidationError, match="unmetered_profile_w"):
        GridMeterConfig(unmetered_profile_w=profile)


def test_invalid_config_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="nominal_voltage_v"):
        GridMeterConfig(nominal_voltage_v=0.0)
