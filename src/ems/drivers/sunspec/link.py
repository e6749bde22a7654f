"""The driver's connection to one SunSpec device: opened on demand, dropped on failure.

A seam like the ``Registers`` protocol one level down: the driver asks a
:class:`Link` for registers when it needs them and closes it after a failure,
so a test can hand in registers without a server.
"""

from __future__ import annotations

from typing import Protocol

from pymodbus.client import ModbusTcpClient

from ems.drivers.sunspec.errors import SunSpecError
from ems.drivers.sunspec.transport import PymodbusRegisters, Registers

__all__ = ["Link", "TcpLink"]


class Link(Protocol):
    def registers(self) -> Registers:
        """The device's registers, connecting first when not connected."""
        ...

    def close(self) -> None:
        """Drop the connection; the next :meth:`registers` connects again."""
        ...


class TcpLink:
    """Modbus TCP to ``host:port``, unit ``unit_id``; no retries of pymodbus's own."""

    def __init__(
        self, host: str, port: int, unit_id: int, timeout_s: float, source_host: str | None = None
    ) -> None:
        self.where = f"{host}:{port} unit {unit_id}"
        self._client = ModbusTcpClient(
            host,
            port=port,
            timeout=timeout_s,
            retries=0,
            source_address=None if source_host is None else (source_host, 0),
        )
        self._registers = PymodbusRegisters(self._client, unit_id)

    def registers(self) -> Registers:
        # pymodbus leaves connect() and close() unannotated.
        if not self._client.connected and not self._client.connect():  # type: ignore[no-untyped-call]
            raise SunSpecError("connection_failed", f"no Modbus TCP answer at {self.where}")
        return self._registers

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]
