"""The served site without a network: maps follow the simulators; a failing one is contained."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ems.dal import Sample, Value
from ems.devices.base import Simulator, SimulatorConfig, SiteContext
from ems.drivers.sunspec.served import ServedBattery
from ems.drivers.sunspec.site import ServedSite, SiteDevice

SITE = SiteContext(52.52, 13.405, 34.0, "Europe/Berlin")


class Steady(Simulator):
    type_name = "steady"
    config_model = SimulatorConfig

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        if now_s >= 100:
            raise RuntimeError("model broke")
        return {"ActivePower": 1234.0, "Soc": 42.5, "Capacity": 9000.0, "State": "discharging"}


def _site() -> ServedSite:
    battery = SiteDevice(
        Steady("battery_1", SimulatorConfig(), SITE), ServedBattery("battery_1", 5000.0), {}
    )
    return ServedSite([battery])


def test_a_step_publishes_into_the_map() -> None:
    site = _site()
    site.step(0.0)
    image = site.devices["battery_1"].served.image
    assert image.get(103, "W") == 1234
    assert image.get(124, "ChaState") == pytest.approx(42.5)
    assert image.get(120, "WHRtg") == 9000
    assert image.raw(124, "ChaSt") == 3  # DISCHARGING


def test_a_failing_simulator_keeps_its_last_values_and_the_site_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = _site()
    site.step(0.0)
    stepped = site.step(100.0)
    assert stepped == {}
    assert site.devices["battery_1"].served.image.get(103, "W") == 1234
    assert "simulator battery_1 failed" in caplog.text


def test_a_write_to_the_storage_controls_becomes_a_timestamped_setpoint() -> None:
    site = _site()
    image = site.devices["battery_1"].served.image
    out = image.span(124, "OutWRte").start
    assert image.span(124, "InWRte").start == out + 1
    # OutWRte 30.00 %, InWRte -30.00 % (InOutWRte_SF -2), then StorCtl_Mod both limits.
    site.write("battery_1", out, [3000, (-3000) & 0xFFFF], now_s=50.0)
    assert site.devices["battery_1"].setpoints["SetActivePower"].value is None  # not enabled yet
    site.write("battery_1", image.span(124, "StorCtl_Mod").start, [0b11], now_s=51.0)
    assert site.devices["battery_1"].setpoints["SetActivePower"] == Sample(1500.0, 51.0)
