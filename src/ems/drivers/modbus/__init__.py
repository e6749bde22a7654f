"""Modbus TCP and RTU drivers (``modbus_tcp``, ``modbus_rtu``), device types as templates."""

from ems.drivers.modbus.driver import (
    ModbusRtuConfig,
    ModbusRtuDriver,
    ModbusTcpConfig,
    ModbusTcpDriver,
    plan_reads,
)
from ems.drivers.modbus.template import RegisterMap, find_template, load_template

__all__ = [
    "ModbusRtuConfig",
    "ModbusRtuDriver",
    "ModbusTcpConfig",
    "ModbusTcpDriver",
    "RegisterMap",
    "find_template",
    "load_template",
    "plan_reads",
]
