"""The pymodbus boundary: one client, its errors translated into the project's.

Every request has the driver's timeout and no retries of pymodbus's own (the
:class:`~ems.drivers.host.DriverRunner` retries with backoff). A request that
gets no answer, or a connection that is down, is a
:class:`~ems.errors.DeviceTimeout`; a Modbus exception response is a
:class:`~ems.errors.DeviceRefused` naming the exception code.
"""

from __future__ import annotations

from typing import Any

from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ModbusException

from ems.drivers.modbus.template import Function
from ems.errors import DeviceRefused, DeviceTimeout

__all__ = ["ModbusTransport"]

#: Modbus exception codes, for log lines and command details.
_EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    6: "device busy",
    11: "gateway target failed to respond",
}


class ModbusTransport:
    """Reads and writes of one unit behind a pymodbus sync client (TCP or serial)."""

    def __init__(self, client: ModbusTcpClient | ModbusSerialClient, unit_id: int) -> None:
        self._client = client
        self._unit_id = unit_id

    @classmethod
    def tcp(cls, host: str, port: int, unit_id: int, timeout_s: float) -> ModbusTransport:
        return cls(ModbusTcpClient(host, port=port, timeout=timeout_s, retries=0), unit_id)

    @classmethod
    def serial(
        cls,
        serial_port: str,
        unit_id: int,
        timeout_s: float,
        *,
        baudrate: int,
        parity: str,
        stopbits: int,
        bytesize: int,
    ) -> ModbusTransport:
        client = ModbusSerialClient(
            serial_port,
            baudrate=baudrate,
            parity=parity,
            stopbits=stopbits,
            bytesize=bytesize,
            timeout=timeout_s,
            retries=0,
        )
        return cls(client, unit_id)

    def read(self, function: Function, address: int, count: int) -> list[int]:
        """``count`` registers (or bits, as 0/1) from ``address``."""
        readers = {
            Function.HOLDING: self._client.read_holding_registers,
            Function.INPUT: self._client.read_input_registers,
            Function.COIL: self._client.read_coils,
            Function.DISCRETE: self._client.read_discrete_inputs,
        }
        response = self._call(readers[function], address, count=count, device_id=self._unit_id)
        if function in (Function.COIL, Function.DISCRETE):
            return [int(b) for b in response.bits[:count]]
        return list(response.registers[:count])

    def write_registers(self, address: int, registers: list[int]) -> None:
        if len(registers) == 1:
            self._call(self._client.write_register, address, registers[0], device_id=self._unit_id)
        else:
            self._call(self._client.write_registers, address, registers, device_id=self._unit_id)

    def write_coil(self, address: int, value: bool) -> None:
        self._call(self._client.write_coil, address, value, device_id=self._unit_id)

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._client.connected and not self._client.connect():
            raise DeviceTimeout(f"cannot connect to {self._describe()}")
        try:
            response = method(*args, **kwargs)
        except ModbusException as exc:
            raise DeviceTimeout(f"{self._describe()}: {exc}") from None
        if response.isError():
            code = getattr(response, "exception_code", None)
            what = _EXCEPTIONS.get(code, "error") if isinstance(code, int) else "error"
            raise DeviceRefused(f"{self._describe()}: exception {code} ({what})")
        return response

    def _describe(self) -> str:
        params = self._client.comm_params
        where = params.host if params.port in (None, 0) else f"{params.host}:{params.port}"
        return f"modbus unit {self._unit_id} at {where}"
