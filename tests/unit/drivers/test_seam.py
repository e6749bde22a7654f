"""The seam: a device is simulated or driven, never both; a measured meter is never overwritten."""

from __future__ import annotations

import pytest
from modbus_device import ServerThread, device, edge_document, modbus_device

from ems.clock import RealClock
from ems.drivers.modbus.codec import encode
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime
from ems.errors import ConfigError


def test_a_device_takes_a_simulator_or_a_driver_not_both() -> None:
    both = {
        **modbus_device("battery_1", "battery", "generic_battery", 1502),
        "simulator": "battery",
    }
    with pytest.raises(ConfigError, match=r"devices\[0\].*not both"):
        parse_edge_config(edge_document(both))


def test_an_unknown_driver_names_the_field_and_the_known_ones() -> None:
    dev = {**modbus_device("battery_1", "battery", "generic_battery", 1502), "driver": "can_x"}
    with pytest.raises(ConfigError, match=r"devices\[0\]\.driver: .*modbus_tcp"):
        parse_edge_config(edge_document(dev))


def test_driver_params_are_validated_with_units_and_names() -> None:
    dev = modbus_device("battery_1", "battery", "generic_battery", 1502, timeout_s=-1)
    with pytest.raises(ConfigError, match=r"devices\[0\]\.params\.timeout_s"):
        parse_edge_config(edge_document(dev))


def test_a_measured_grid_meter_is_never_overwritten_by_the_simulators(
    modbus_server: list[ServerThread],
) -> None:
    inputs = dict(enumerate(encode(1234.0, "float32", "big")))
    server = ServerThread(device({}, inputs))
    server.start()
    modbus_server.append(server)
    doc = edge_document(
        {"id": "battery_1", "profile": "battery", "simulator": "battery", "params": {"seed": 1}},
        {"id": "load", "profile": "load_meter", "simulator": "load_meter", "params": {"seed": 4}},
        modbus_device("grid", "grid_meter", "generic_meter", server.port),
    )
    rt = EdgeRuntime(parse_edge_config(doc), RealClock())
    try:
        assert rt.drivers.runners["grid"].poll_once()
        measured = rt.store.get_channel("grid/ActivePower")
        for _ in range(5):  # every publish of a balance device would close the balance
            rt.host.tick_all()
        assert rt.store.get_channel("grid/ActivePower") == measured
        assert measured is not None and measured.value == 1234.0
        assert rt.store.get_channel("load/ActivePower") is not None  # the simulators did run
    finally:
        rt.drivers.stop()
