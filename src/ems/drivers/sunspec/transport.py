"""The register seam: SunSpec code reads and writes holding registers through this.

``Registers`` is all the SunSpec modules need, so tests and the driver seam can
hand in anything that reads holding registers. ``PymodbusRegisters`` adapts a
pymodbus synchronous client and translates its failures into ``SunSpecError``
with stable reasons at this boundary; nothing above it sees a pymodbus type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from ems.drivers.sunspec.errors import SunSpecError

__all__ = ["MAX_READ_REGS", "PymodbusRegisters", "Registers", "open_tcp"]

# Modbus allows at most 125 registers in one read (function 3).
MAX_READ_REGS = 125


class Registers(Protocol):
    """Holding registers of one device (one unit id)."""

    def read(self, address: int, count: int) -> list[int]:
        """Read ``count`` (<= 125) holding registers from ``address``; 16-bit words."""
        ...

    def write(self, address: int, values: Sequence[int]) -> None:
        """Write 16-bit words to holding registers from ``address``."""
        ...


class _SyncClient(Protocol):
    def read_holding_registers(
        self, address: int, *, count: int = ..., device_id: int = ...
    ) -> object: ...

    def write_registers(
        self, address: int, values: Sequence[int], *, device_id: int = ...
    ) -> object: ...


class PymodbusRegisters:
    """``Registers`` over a pymodbus synchronous client (TCP, RTU or anything it frames)."""

    def __init__(self, client: _SyncClient, unit_id: int = 1) -> None:
        self._client = client
        self._unit_id = unit_id

    def read(self, address: int, count: int) -> list[int]:
        try:
            response = self._client.read_holding_registers(
                address, count=count, device_id=self._unit_id
            )
        except ModbusException as exc:
            raise _translate(exc, f"reading {count} registers at {address}") from exc
        _raise_if_exception(response, f"reading {count} registers at {address}")
        registers = getattr(response, "registers", None)
        if not isinstance(registers, list) or len(registers) < count:
            got = len(registers) if isinstance(registers, list) else 0
            raise SunSpecError(
                "model_truncated", f"asked {count} registers at {address}, got {got}"
            )
        return [int(r) for r in registers[:count]]

    def write(self, address: int, values: Sequence[int]) -> None:
        try:
            response = self._client.write_registers(address, list(values), device_id=self._unit_id)
        except ModbusException as exc:
            raise _translate(exc, f"writing {len(values)} registers at {address}") from exc
        _raise_if_exception(response, f"writing {len(values)} registers at {address}")


def _raise_if_exception(response: object, doing: str) -> None:
    is_error = getattr(response, "isError", None)
    if callable(is_error) and is_error():
        code = getattr(response, "exception_code", None)
        raise SunSpecError("modbus_exception", f"{doing}: exception code {code}")


def _translate(exc: ModbusException, doing: str) -> SunSpecError:
    if isinstance(exc, ConnectionException):
        return SunSpecError("connection_failed", f"{doing}: {exc}")
    if isinstance(exc, ModbusIOException):
        # pymodbus raises its IO exception when no answer came within the timeout.
        return SunSpecError("timeout", f"{doing}: {exc}")
    return SunSpecError("modbus_exception", f"{doing}: {exc}")


def open_tcp(
    host: str, port: int, unit_id: int = 1, timeout_s: float = 1.0
) -> tuple[ModbusTcpClient, PymodbusRegisters]:
    """Connect a pymodbus TCP client; the caller closes the client when done."""
    client = ModbusTcpClient(host, port=port, timeout=timeout_s, retries=0)
    # pymodbus leaves connect() and close() unannotated.
    if not client.connect():  # type: ignore[no-untyped-call]
        client.close()  # type: ignore[no-untyped-call]
        raise SunSpecError("connection_failed", f"no Modbus TCP answer at {host}:{port}")
    return client, PymodbusRegisters(client, unit_id)
