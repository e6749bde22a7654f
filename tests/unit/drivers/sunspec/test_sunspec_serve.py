"""``ems devices serve``: the site's simulators behind SunSpec maps on loopback Modbus TCP.

The served maps are checked with pysunspec2's own client as well as ours, and
setpoints written over Modbus must reach the simulators.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from served_site import Served
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from ems.drivers.sunspec import SunSpecError, discover, open_tcp, profile_of, read_values
from ems.drivers.sunspec import write_setpoint as write_sunspec_setpoint

NOON_S = datetime(2026, 6, 21, 11, 0, tzinfo=UTC).timestamp()  # 13:00 in Berlin, midsummer

SITE = {
    "edge_id": "serve-test",
    "site": {"latitude_deg": 52.52, "longitude_deg": 13.405, "timezone": "Europe/Berlin"},
    "devices": [
        {
            "id": "battery_1",
            "profile": "battery",
            "simulator": "battery",
            "params": {"capacity_wh": 10000, "initial_soc_pct": 50, "max_charge_power_w": 5000},
        },
        {
            "id": "pv_1",
            "profile": "pv_inverter",
            "simulator": "pv_inverter",
            "params": {"seed": 2, "cloudiness": 0.0, "inverter_max_power_w": 8000},
        },
        {"id": "load", "profile": "load_meter", "simulator": "load_meter", "params": {}},
    ],
}


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    s = Served(SITE, NOON_S)
    yield s
    s.close()


def test_only_pv_and_batteries_are_served_on_ports_of_their_own(served: Served) -> None:
    assert sorted(served.ports) == ["battery_1", "pv_1"]
    assert len(set(served.ports.values())) == 2


def test_pysunspec2_reads_the_served_maps(served: Served) -> None:
    device = SunSpecModbusClientDeviceTCP(
        slave_id=1, ipaddr="127.0.0.1", ipport=served.ports["battery_1"]
    )
    try:
        device.scan()
        assert [m.model_id for m in device.model_list] == [1, 103, 120, 124]
        assert device.models[1][0].SN.cvalue == "battery_1"
        assert device.models[124][0].ChaState.cvalue == pytest.approx(
            served.channels["battery_1"]["Soc"], abs=0.05
        )
        assert device.models[120][0].WHRtg.cvalue == pytest.approx(
            served.channels["battery_1"]["Capacity"], abs=5
        )
    finally:
        device.close()


def test_a_served_battery_reads_as_its_simulator_and_follows_a_setpoint(served: Served) -> None:
    client, regs = open_tcp("127.0.0.1", served.ports["battery_1"])
    try:
        smap = discover(regs)
        assert profile_of(smap) == "battery"
        values = read_values(regs, smap, "battery")
        sim = served.channels["battery_1"]
        assert values["Soc"] == pytest.approx(sim["Soc"], abs=0.05)
        assert values["MaxChargePower"] == pytest.approx(sim["MaxChargePower"], abs=0.5)
        assert values["ActivePower"] == pytest.approx(sim["ActivePower"], abs=0.5)

        write_sunspec_setpoint(regs, smap, "battery", -2000.0)
        setpoint = served.site.devices["battery_1"].setpoints["SetActivePower"]
        assert (setpoint.value, setpoint.ts) == (pytest.approx(-2000.0), served.now_s)

        served.step(1.0)
        assert served.channels["battery_1"]["ActivePower"] == pytest.approx(-2000.0)
        assert read_values(regs, smap, "battery")["ActivePower"] == pytest.approx(-2000.0)
        assert read_values(regs, smap, "battery")["State"] == "charging"
    finally:
        client.close()


def test_a_served_inverter_is_curtailed_through_model_123(served: Served) -> None:
    client, regs = open_tcp("127.0.0.1", served.ports["pv_1"])
    try:
        smap = discover(regs)
        assert profile_of(smap) == "pv_inverter"
        before = read_values(regs, smap, "pv_inverter")["ActivePower"]
        assert isinstance(before, float)
        assert before > 1500  # midsummer noon, clear sky

        write_sunspec_setpoint(regs, smap, "pv_inverter", 1000.0)
        limit = served.site.devices["pv_1"].setpoints["SetActivePowerLimit"]
        assert limit.value == pytest.approx(1000.0)
        served.step(1.0)
        assert read_values(regs, smap, "pv_inverter")["ActivePower"] == pytest.approx(
            1000.0, abs=1.0
        )

        write_sunspec_setpoint(regs, smap, "pv_inverter", None)
        assert served.site.devices["pv_1"].setpoints["SetActivePowerLimit"].value is None
    finally:
        client.close()


def test_outside_the_served_map_is_an_illegal_address(served: Served) -> None:
    client, regs = open_tcp("127.0.0.1", served.ports["pv_1"])
    try:
        with pytest.raises(SunSpecError) as caught:
            regs.read(0, 2)
    finally:
        client.close()
    assert caught.value.reason == "modbus_exception"
