"""Each shipped template against pymodbus's own server: values read, scale applied, writes land."""

from __future__ import annotations

from pathlib import Path

import pytest
from modbus_device import ServerThread, device, edge_document, modbus_device

from ems.clock import RealClock
from ems.drivers.modbus.codec import decode, encode
from ems.drivers.modbus.template import load_template, shipped_templates
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime
from ems.errors import ConfigError, TemplateError


def runtime_for(*devices: dict[str, object], config_dir: Path | None = None) -> EdgeRuntime:
    config = parse_edge_config(edge_document(*devices), config_dir=config_dir)
    return EdgeRuntime(config, RealClock())


def regs(value: float, kind: str, order: str = "big") -> list[int]:
    return encode(value, kind, order)  # type: ignore[arg-type]


def test_generic_battery_reads_scaled_values_and_takes_a_setpoint(
    modbus_server: list[ServerThread],
) -> None:
    inputs = dict(
        enumerate(
            [
                *regs(-2500, "int32"),  # ActivePower 0-1
                553,  # Soc 2, 0.1 %
                *regs(5000, "uint32"),  # MaxChargePower 3-4
                *regs(4000, "uint32"),  # MaxDischargePower 5-6
                *regs(10_000, "uint32"),  # Capacity 7-8
                1,  # State 9: charging
                *regs(1234, "uint32"),  # ActiveChargeEnergy 10-11, 10 Wh
                *regs(99, "uint32"),  # ActiveDischargeEnergy 12-13, 10 Wh
            ]
        )
    )
    server = ServerThread(device({}, inputs))
    server.start()
    modbus_server.append(server)
    rt = runtime_for(modbus_device("battery_1", "battery", "generic_battery", server.port))
    runner = rt.drivers.runners["battery_1"]

    assert runner.poll_once()
    snap = rt.store.snapshot()
    assert snap.value("battery_1/ActivePower") == -2500
    assert snap.value("battery_1/Soc") == pytest.approx(55.3)
    assert snap.value("battery_1/MaxChargePower") == 5000
    assert snap.value("battery_1/MaxDischargePower") == 4000
    assert snap.value("battery_1/Capacity") == 10_000
    assert snap.value("battery_1/State") == "charging"
    assert snap.value("battery_1/ActiveChargeEnergy") == 12_340
    assert snap.value("battery_1/ActiveDischargeEnergy") == 990
    assert snap.value("battery_1/CommunicationFailed") is False

    runner.submit({"SetActivePower": -1500.0}, {})
    runner.flush_writes()
    check = server.client()
    raw = check.read_holding_registers(100, count=2, device_id=1).registers
    check.close()
    rt.drivers.stop()
    assert decode(raw, "int32", "big") == -1500
    assert runner.writes == 1 and runner.write_failures == 0


def test_generic_meter_reads_floats_and_a_scale_factor_register(
    modbus_server: list[ServerThread],
) -> None:
    inputs = {
        **dict(enumerate(regs(-1234.5, "float32"))),  # ActivePower 0-1
        2: 2301,  # Voltage raw
        3: 0xFFFF,  # its scale factor: -1, so 230.1 V
        4: 5001,  # Frequency, 0.01 Hz
        **dict(zip((6, 7), regs(1e6, "float32"), strict=True)),
        **dict(zip((8, 9), regs(2.5e5, "float32"), strict=True)),
    }
    server = ServerThread(device({}, inputs))
    server.start()
    modbus_server.append(server)
    rt = runtime_for(modbus_device("grid", "grid_meter", "generic_meter", server.port))

    assert rt.drivers.runners["grid"].poll_once()
    rt.drivers.stop()
    snap = rt.store.snapshot()
    assert snap.value("grid/ActivePower") == pytest.approx(-1234.5)
    assert snap.value("grid/Voltage") == pytest.approx(230.1)
    assert snap.value("grid/Frequency") == pytest.approx(50.01)
    assert snap.value("grid/ActiveEnergyImport") == pytest.approx(1e6)
    assert snap.value("grid/ActiveEnergyExport") == pytest.approx(2.5e5)


def test_every_shipped_template_loads() -> None:
    shipped = shipped_templates()
    assert {"generic_battery", "generic_meter"} <= set(shipped)
    for path in shipped.values():
        assert load_template(path).channels


def test_a_users_template_is_found_by_name_in_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "my-meter.yaml").write_text(
        "channels:\n  ActivePower: {address: 7, function: holding, type: int16, scale: 10}\n"
    )
    rt = runtime_for(modbus_device("load", "load_meter", "my-meter", 1), config_dir=tmp_path)
    template = rt.drivers.runners["load"].driver.template  # type: ignore[attr-defined]
    assert template.name == "my-meter"
    assert template.channels["ActivePower"].scale == 10


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("channels:\n  Soc: {address: 1, function: input, type: int64}\n", "channels.Soc.type"),
        ("channels:\n  Soc: {address: -1, function: input}\n", "channels.Soc.address"),
        ("channels:\n  Soc: {address: 1, function: input, colour: 1}\n", "channels.Soc.colour"),
        ("channels:\n  Soc: {address: 1, function: input, access: write}\n", "access"),
        ("channels:\n  Bogus: {address: 1, function: input}\n", "channels.Bogus"),
        ("channels:\n  SetActivePower: {address: 1, function: holding}\n", "SetActivePower.access"),
    ],
)
def test_a_template_error_names_the_file_and_the_field(
    tmp_path: Path, body: str, field: str
) -> None:
    (tmp_path / "bad.yaml").write_text(body)
    with pytest.raises(ConfigError) as err:
        runtime_for(modbus_device("battery_1", "battery", "bad", 1), config_dir=tmp_path)
    message = str(err.value)
    assert "bad.yaml" in message and field in message, message
    assert message.startswith("devices[0].params.template")


def test_an_unknown_template_lists_the_shipped_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="generic_battery"):
        runtime_for(modbus_device("battery_1", "battery", "nope", 1), config_dir=tmp_path)


def test_template_errors_are_template_errors(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("channels: []\n")
    with pytest.raises(TemplateError, match=r"t\.yaml: channels"):
        load_template(tmp_path / "t.yaml")
