"""Modbus RTU: pymodbus's serial server on one end of a pty pair, the edge's driver on the other."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from modbus_device import PtyLink, ServerThread, device, edge_document
from pymodbus.client import ModbusSerialClient

from ems.clock import RealClock
from ems.drivers.modbus.codec import decode, encode
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime


@pytest.fixture
def line() -> Iterator[PtyLink]:
    link = PtyLink()
    yield link
    link.close()


def test_rtu_reads_the_template_and_writes_a_setpoint(
    line: PtyLink, modbus_server: list[ServerThread]
) -> None:
    inputs = {**dict(enumerate(encode(-750, "int32", "big"))), 2: 615}
    server = ServerThread(device({}, inputs), serial_port=line.b_path)
    server.start()
    modbus_server.append(server)
    doc = edge_document(
        {
            "id": "battery_1",
            "profile": "battery",
            "driver": "modbus_rtu",
            "params": {
                "serial_port": line.a_path,
                "baudrate": 115200,
                "unit_id": 1,
                "template": "generic_battery",
                "timeout_s": 1.0,
            },
        }
    )
    rt = EdgeRuntime(parse_edge_config(doc), RealClock())
    runner = rt.drivers.runners["battery_1"]
    try:
        assert runner.poll_once()
        snap = rt.store.snapshot()
        assert snap.value("battery_1/ActivePower") == -750
        assert snap.value("battery_1/Soc") == pytest.approx(61.5)
        runner.submit({"SetActivePower": 1200.0}, {"SetActivePower": ["c-rtu"]})
        runner.flush_writes()
        assert [(o.command_id, o.ok) for o in runner.outcomes()] == [("c-rtu", True)]
        assert runner.poll_once()  # the line still works after a write
    finally:
        rt.drivers.stop()
    # pymodbus's own serial client on the same line finds the setpoint in the register.
    check = ModbusSerialClient(line.a_path, baudrate=115200, timeout=1, retries=1)
    assert check.connect()
    raw = check.read_holding_registers(100, count=2, device_id=1).registers
    check.close()
    assert decode(raw, "int32", "big") == 1200
