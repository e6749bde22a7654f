"""The cell-level battery: the battery profile's channels, true SOC, a drifting BMS counter."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from pydantic import ValidationError

from ems.dal import Sample, Value
from ems.devices.base import SIMULATORS, SiteContext
from ems.devices.battery_ecm import EcmBatteryConfig, EcmBatterySimulator

SITE = SiteContext(52.52, 13.405, 34.0, "Europe/Berlin")
T0 = 1_775_001_600.0


def make(**config: Any) -> EcmBatterySimulator:
    return EcmBatterySimulator("battery_1", EcmBatteryConfig(**config), SITE)


def run(b: EcmBatterySimulator, power_w: float, seconds: int) -> dict[str, Value]:
    out = b.step(T0, 0.0, {})
    for k in range(1, seconds + 1):
        t = T0 + k
        out = b.step(t, 1.0, {"SetActivePower": Sample(power_w, t)})
    return out


def test_it_is_registered_and_publishes_every_battery_channel_and_the_cell_ones() -> None:
    assert SIMULATORS.get("battery_ecm") is EcmBatterySimulator
    text = resources.files("ems.profiles").joinpath("battery.json").read_text("utf-8")
    inputs = {n for n, s in json.loads(text)["channels"].items() if s["category"] == "input"}
    out = run(make(), 2000.0, 5)
    estimator_channels = {"SocEstimate", "SocEstimateStd", "SocEstimateSource", "SohEstimate"}
    estimator_channels |= {
        "InternalResistance",
        "RulDays",
        "PrognosisEndOfLife",
        "PrognosisTemperature",
    }
    estimator_channels |= {
        "PrognosisResistance",
        "PrognosisEvidence",
    }  # the edge estimator's, not the device's
    assert set(out) == inputs - estimator_channels


@pytest.mark.parametrize("chem", ["lfp", "nmc"])
def test_discharging_draws_positive_current_and_lowers_the_true_soc(chem: str) -> None:
    b = make(chemistry=chem, initial_soc_pct=60.0)
    out = run(b, 3000.0, 600)
    assert out["ActivePower"] == 3000.0
    current, voltage = out["Current"], out["Voltage"]
    assert isinstance(current, float) and isinstance(voltage, float)
    # DC power = AC / efficiency = V·I, within the sensors' noise.
    assert voltage * current == pytest.approx(3000.0 / 0.95, rel=0.01)
    true_soc = out["SocTrue"]
    assert isinstance(true_soc, float)
    # 10 min at ~3.16 kW DC of a 10 kWh (nameplate; 2 % less real) pack: ~5.4 % of SOC.
    assert 60.0 - true_soc == pytest.approx(3158 / 6 / 9800 * 100, rel=0.05)


def test_the_bms_counter_drifts_by_its_sensor_bias_and_starts_off_by_its_error() -> None:
    b = make(bms_error={"current_bias_a": 1.0, "initial_soc_error_pct": 5.0})
    first = b.step(T0, 0.0, {})
    assert first["Soc"] == pytest.approx(55.0)
    assert first["SocTrue"] == 50.0
    out = run(b, 0.0, 3600)  # idle for an hour: only the bias moves the count
    nameplate_ah = 10_000 / (16 * 3.2)
    assert out["Soc"] == pytest.approx(55.0 - 100.0 / nameplate_ah, abs=0.1)
    assert out["SocTrue"] == pytest.approx(50.0)


def test_the_cells_warm_under_load_and_power_stops_at_the_soc_window() -> None:
    b = make(initial_soc_pct=20.0, min_soc_pct=10.0, ambient_swing_c=0.0)
    out = run(b, 5000.0, 3 * 3600)
    assert out["SocTrue"] == pytest.approx(10.0)
    assert out["ActivePower"] == 0.0
    assert b.thermal.temperature_c > 20.0


def test_true_soc_is_not_published_when_switched_off() -> None:
    assert "SocTrue" not in run(make(publish_true_soc=False), 0.0, 1)


def test_bad_parameters_are_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="chemistry"):
        EcmBatteryConfig(chemistry="lto")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="current_bias_a"):
        EcmBatteryConfig(bms_error={"current_bias_a": "lots"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="bias_a"):
        EcmBatteryConfig(bms_error={"bias_a": 1.0})  # type: ignore[arg-type]
