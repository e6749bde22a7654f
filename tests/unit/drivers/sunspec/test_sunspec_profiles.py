"""SunSpec devices onto profiles: channels read, setpoints written and read back by pysunspec2."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP
from sunspec_server import (
    COMMON,
    CONTROLS_123,
    DER_AC_701,
    DER_CAPACITY_702,
    DER_CONTROLS_704,
    DER_STORAGE_713,
    INVERTER_103,
    NAMEPLATE_120,
    STORAGE_124,
    UNIT_ID,
    LoopbackServer,
    ServeFn,
    sunspec_map,
)

from ems.drivers.sunspec import (
    PymodbusRegisters,
    SunSpecDevice,
    SunSpecError,
    SunSpecMap,
    discover,
    open_tcp,
    profile_of,
    read_values,
    write_setpoint,
)
from ems.profiles.loader import builtin_profiles

PV = [(1, COMMON), (103, INVERTER_103), (120, NAMEPLATE_120), (123, CONTROLS_123)]
HYBRID = [*PV, (124, STORAGE_124)]
DER_STORAGE = [
    (1, COMMON),
    (701, DER_AC_701),
    (702, DER_CAPACITY_702),
    (704, DER_CONTROLS_704),
    (713, DER_STORAGE_713),
]
DER_PV = [(1, COMMON), (701, DER_AC_701), (702, DER_CAPACITY_702), (704, DER_CONTROLS_704)]


@pytest.fixture
def connect(serve: ServeFn) -> Iterator[Any]:
    clients: list[Any] = []

    def start(
        models: list[tuple[int, dict[str, Any]]],
    ) -> tuple[LoopbackServer, PymodbusRegisters, SunSpecMap]:
        server = serve({40000: sunspec_map(models)})
        client, regs = open_tcp("127.0.0.1", server.port)
        clients.append(client)
        return server, regs, discover(regs)

    yield start
    for client in clients:
        client.close()


def _reference(port: int, model_id: int) -> Any:
    """The model as pysunspec2's client reads it from the server now."""
    device = SunSpecModbusClientDeviceTCP(slave_id=UNIT_ID, ipaddr="127.0.0.1", ipport=port)
    try:
        device.scan()
        model = device.models[model_id][0]
        model.read()
        return model
    finally:
        device.close()


def test_an_inverter_fills_the_pv_inverter_channels(connect: Any) -> None:
    _, regs, smap = connect(PV)
    assert profile_of(smap) == "pv_inverter"
    values = read_values(regs, smap, "pv_inverter")
    assert values == {
        "ActivePower": 4567,
        "ActiveEnergy": 1234567,
        "Voltage": pytest.approx(230.1),
        "Current": pytest.approx(12.3),
    }
    assert set(values) <= set(builtin_profiles()["pv_inverter"].channels)


def test_a_der_only_inverter_reads_from_701_and_night_draw_is_no_production(connect: Any) -> None:
    _, regs, smap = connect(DER_PV)
    assert profile_of(smap) == "pv_inverter"
    assert read_values(regs, smap, "pv_inverter") == {
        "ActivePower": 0.0,  # 701 says W = -2500: drawing, not producing
        "ActiveEnergy": 987654,
        "Voltage": pytest.approx(231.0),
        "Current": pytest.approx(10.9),
    }


def test_storage_model_124_fills_the_battery_channels(connect: Any) -> None:
    _, regs, smap = connect(HYBRID)
    assert profile_of(smap) == "battery"
    values = read_values(regs, smap, "battery")
    assert values == {
        "ActivePower": 4567,
        "Soc": pytest.approx(65.5),
        "Capacity": 10000,
        "MaxChargePower": 5000,
        "MaxDischargePower": 4500,
        "State": "discharging",
    }
    assert set(values) <= set(builtin_profiles()["battery"].channels)


def test_der_storage_fills_the_battery_channels(connect: Any) -> None:
    _, regs, smap = connect(DER_STORAGE)
    assert profile_of(smap) == "battery"
    assert read_values(regs, smap, "battery") == {
        "ActivePower": -2500,  # charging
        "Soc": pytest.approx(59.3),
        "Capacity": 13500,
        "MaxChargePower": 6000,
        "MaxDischargePower": 7000,
        "State": None,
    }


@pytest.mark.parametrize(
    ("setpoint_w", "out_pct", "in_pct"),
    [(2000.0, 40.0, -40.0), (-1000.0, -20.0, 20.0), (0.0, 0.0, 0.0)],
)
def test_a_battery_setpoint_goes_to_124_as_a_pinned_window(
    connect: Any, setpoint_w: float, out_pct: float, in_pct: float
) -> None:
    server, regs, smap = connect(HYBRID)
    write_setpoint(regs, smap, "battery", setpoint_w)
    storage = _reference(server.port, 124)
    assert storage.OutWRte.cvalue == out_pct
    assert storage.InWRte.cvalue == in_pct
    assert storage.StorCtl_Mod.value == 0b11


def test_a_setpoint_beyond_wchamax_is_refused_and_nothing_written(connect: Any) -> None:
    server, regs, smap = connect(HYBRID)
    with pytest.raises(SunSpecError) as caught:
        write_setpoint(regs, smap, "battery", 6000.0)
    assert caught.value.reason == "bad_setpoint"
    storage = _reference(server.port, 124)
    assert (storage.OutWRte.value, storage.InWRte.value, storage.StorCtl_Mod.value) == (0, 0, 0)


def test_a_battery_setpoint_goes_to_704_as_wset(connect: Any) -> None:
    server, regs, smap = connect(DER_STORAGE)
    write_setpoint(regs, smap, "battery", -3000.0)
    controls = _reference(server.port, 704)
    assert controls.WSet.cvalue == -3000
    assert controls.WSetMod.value == 1  # watts
    assert controls.WSetEna.value == 1


def test_a_pv_limit_goes_to_123_and_none_releases_it(connect: Any) -> None:
    server, regs, smap = connect(PV)
    write_setpoint(regs, smap, "pv_inverter", 2500.0)
    controls = _reference(server.port, 123)
    assert controls.WMaxLimPct.cvalue == 50.0  # of WRtg 5000 W
    assert controls.WMaxLim_Ena.value == 1
    write_setpoint(regs, smap, "pv_inverter", None)
    assert _reference(server.port, 123).WMaxLim_Ena.value == 0


def test_a_pv_limit_goes_to_704_against_the_der_rating(connect: Any) -> None:
    server, regs, smap = connect(DER_PV)
    write_setpoint(regs, smap, "pv_inverter", 2000.0)
    controls = _reference(server.port, 704)
    assert controls.WMaxLimPct.cvalue == 25.0  # of WMaxRtg 8000 W
    assert controls.WMaxLimPctEna.value == 1


def test_a_negative_pv_limit_is_a_bad_setpoint(connect: Any) -> None:
    _, regs, smap = connect(PV)
    with pytest.raises(SunSpecError) as caught:
        write_setpoint(regs, smap, "pv_inverter", -1.0)
    assert caught.value.reason == "bad_setpoint"


def test_a_device_without_a_control_model_says_which_is_missing(connect: Any) -> None:
    _, regs, smap = connect([(1, COMMON), (103, INVERTER_103)])
    with pytest.raises(SunSpecError) as caught:
        write_setpoint(regs, smap, "pv_inverter", 1000.0)
    assert caught.value.reason == "model_missing"
    assert caught.value.detail == "no controls model (123) nor DER controls (704)"
    with pytest.raises(SunSpecError) as caught:
        write_setpoint(regs, smap, "battery", 1.0)
    assert caught.value.reason == "model_missing"


def test_an_inverter_in_fault_makes_the_battery_state_fault(connect: Any) -> None:
    faulted = {**INVERTER_103, "St": 7}  # FAULT
    _, regs, smap = connect([(1, COMMON), (103, faulted), (124, STORAGE_124)])
    assert read_values(regs, smap, "battery")["State"] == "fault"


def test_a_device_with_only_the_common_model_fills_no_profile(connect: Any) -> None:
    _, regs, smap = connect([(1, COMMON)])
    assert profile_of(smap) is None
    with pytest.raises(SunSpecError) as caught:
        read_values(regs, smap, "pv_inverter")
    assert caught.value.reason == "model_missing"


def test_a_device_attaches_to_the_profile_it_fills(connect: Any) -> None:
    _, regs, _ = connect(HYBRID)
    device = SunSpecDevice.attach(regs)
    assert device.profile == "battery"
    assert device.read_values()["Soc"] == pytest.approx(65.5)
    # A hybrid inverter may be configured as the site's PV inverter too.
    assert SunSpecDevice.attach(regs, "pv_inverter").read_values()["ActivePower"] == 4567


def test_a_battery_without_a_storage_model_is_refused_at_attach(connect: Any) -> None:
    _, regs, _ = connect(PV)
    with pytest.raises(SunSpecError) as caught:
        SunSpecDevice.attach(regs, "battery")
    assert caught.value.reason == "model_missing"
