"""Modbus drivers: a register-map template read in blocks, setpoints written by channel.

``modbus_tcp`` and ``modbus_rtu`` differ only in their transport; what a
device holds where is its template (:mod:`ems.drivers.modbus.template`).
Reads are grouped into blocks of neighbouring registers of one function (at
most 125 registers, as the protocol allows), so a poll of a typical device is
one or two requests. A block the device refuses (a Modbus exception) leaves
its channels unread and stale; the others are still published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pydantic import Field

from ems.dal import Value
from ems.drivers.base import Driver, DriverConfig, DriverContext, Reading, register_driver
from ems.drivers.modbus.codec import decode, encode
from ems.drivers.modbus.template import (
    WIDTH,
    Function,
    RegisterMap,
    RegisterSpec,
    check_against_profile,
    find_template,
    load_template,
)
from ems.drivers.modbus.transport import ModbusTransport
from ems.errors import DeviceRefused
from ems.profiles import DeviceProfile

__all__ = ["ModbusRtuConfig", "ModbusRtuDriver", "ModbusTcpConfig", "ModbusTcpDriver", "plan_reads"]

#: Most registers one read may ask for (Modbus: 125 registers, 2000 bits).
MAX_BLOCK = {
    Function.HOLDING: 125,
    Function.INPUT: 125,
    Function.COIL: 2000,
    Function.DISCRETE: 2000,
}
#: Unused registers a block may span to save a request.
MAX_GAP = 8


class ModbusConfig(DriverConfig):
    unit_id: int = Field(default=1, ge=0, le=247, description="Modbus unit (slave) id")
    template: str = Field(description="Register map: <name>.yaml in the config folder, or shipped")


class ModbusTcpConfig(ModbusConfig):
    host: str = Field(description="Device address (a host name or IP)")
    port: int = Field(default=502, ge=1, le=65535)


class ModbusRtuConfig(ModbusConfig):
    serial_port: str = Field(description="Serial device, e.g. /dev/ttyUSB0")
    baudrate: int = Field(default=9600, gt=0, description="[bit/s]")
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


@dataclass(slots=True)
class Block:
    """One read request: ``count`` registers of ``function`` from ``address``."""

    function: Function
    address: int
    count: int
    channels: list[str] = field(default_factory=list)  # read channels it serves
    scale_factors: list[int] = field(default_factory=list)  # sf registers it serves


def plan_reads(template: RegisterMap) -> list[Block]:
    """The fewest blocks covering every read channel and scale-factor register."""
    items: dict[Function, list[tuple[int, int, str | None]]] = {}
    for channel, spec in template.channels.items():
        if spec.access != "read":
            continue
        items.setdefault(spec.function, []).append((spec.address, WIDTH[spec.type], channel))
    for spec in template.channels.values():
        if spec.scale_factor is not None:
            items.setdefault(spec.function, []).append((spec.scale_factor, 1, None))
    blocks: list[Block] = []
    for function, entries in items.items():
        current: Block | None = None
        for address, width, name in sorted(entries, key=lambda e: e[0]):
            end = address + width
            if (
                current is None
                or address > current.address + current.count + MAX_GAP
                or end - current.address > MAX_BLOCK[function]
            ):
                current = Block(function, address, width)
                blocks.append(current)
            current.count = max(current.count, end - current.address)
            if name is None:
                current.scale_factors.append(address)
            else:
                current.channels.append(name)
    return blocks


class ModbusDriver(Driver):
    """A device described by a register-map template, behind a :class:`ModbusTransport`."""

    config_model: ClassVar[type[DriverConfig]] = ModbusConfig

    def __init__(
        self,
        device_id: str,
        config: DriverConfig,
        profile: DeviceProfile,
        context: DriverContext,
        transport: ModbusTransport | None = None,
    ) -> None:
        super().__init__(device_id, config, profile, context)
        assert isinstance(config, ModbusConfig)
        path = find_template(config.template, context.config_dir)
        self.template = load_template(path)
        check_against_profile(self.template, profile, path.name)
        self._blocks = plan_reads(self.template)
        self._transport = transport or self._open_transport()
        # Last scale-factor register values, keyed by (function, address): writes need them.
        self._sf: dict[tuple[Function, int], int] = {}

    def _open_transport(self) -> ModbusTransport:
        raise NotImplementedError

    def writable(self) -> frozenset[str]:
        return frozenset(n for n, s in self.template.channels.items() if s.access == "write")

    def describe(self) -> Mapping[str, Value]:
        return {"template": self.template.name}

    def read(self) -> Reading:
        reading = Reading()
        raw: dict[tuple[Function, int], int] = {}
        for block in self._blocks:
            try:
                registers = self._transport.read(block.function, block.address, block.count)
            except DeviceRefused as exc:
                for name in block.channels:
                    reading.refused[name] = str(exc)
                continue
            for offset, word in enumerate(registers):
                raw[(block.function, block.address + offset)] = word
            for address in block.scale_factors:
                self._sf[(block.function, address)] = _int16(raw[(block.function, address)])
        for name, spec in self.template.channels.items():
            if spec.access != "read" or name in reading.refused:
                continue
            try:
                reading.values[name] = self._value(spec, raw)
            except KeyError:
                reading.refused[name] = "its scale-factor register was not read"
        return reading

    def _value(self, spec: RegisterSpec, raw: Mapping[tuple[Function, int], int]) -> Value:
        words = [raw[(spec.function, spec.address + i)] for i in range(WIDTH[spec.type])]
        if spec.type == "bool":
            return bool(words[0])
        number = decode(words, spec.type, self.template.order_of(spec))
        if spec.enum is not None:
            return spec.enum.get(int(number), "fault")
        return number * self._scale(spec)

    def _scale(self, spec: RegisterSpec) -> float:
        if spec.scale_factor is None:
            return spec.scale
        return float(10.0 ** self._sf[(spec.function, spec.scale_factor)])

    def write(self, channel: str, value: Value) -> None:
        spec = self.template.channels[channel]
        if spec.type == "bool":
            self._transport.write_coil(spec.address, bool(value))
            return
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise DeviceRefused(f"{channel}: {value!r} is not a number")
        if spec.scale_factor is not None and (spec.function, spec.scale_factor) not in self._sf:
            sf = self._transport.read(spec.function, spec.scale_factor, 1)[0]
            self._sf[(spec.function, spec.scale_factor)] = _int16(sf)
        try:
            registers = encode(value / self._scale(spec), spec.type, self.template.order_of(spec))
        except ValueError as exc:
            raise DeviceRefused(f"{channel}: {exc}") from None
        self._transport.write_registers(spec.address, registers)

    def close(self) -> None:
        self._transport.close()


def _int16(word: int) -> int:
    return word - 0x10000 if word >= 0x8000 else word


@register_driver
class ModbusTcpDriver(ModbusDriver):
    type_name = "modbus_tcp"
    config_model: ClassVar[type[DriverConfig]] = ModbusTcpConfig

    def _open_transport(self) -> ModbusTransport:
        cfg = self.config
        assert isinstance(cfg, ModbusTcpConfig)
        return ModbusTransport.tcp(cfg.host, cfg.port, cfg.unit_id, cfg.timeout_s)

    def describe(self) -> Mapping[str, Value]:
        cfg = self.config
        assert isinstance(cfg, ModbusTcpConfig)
        return {"template": self.template.name, "host": cfg.host, "port": cfg.port}


@register_driver
class ModbusRtuDriver(ModbusDriver):
    type_name = "modbus_rtu"
    config_model: ClassVar[type[DriverConfig]] = ModbusRtuConfig

    def _open_transport(self) -> ModbusTransport:
        cfg = self.config
        assert isinstance(cfg, ModbusRtuConfig)
        return ModbusTransport.serial(
            cfg.serial_port,
            cfg.unit_id,
            cfg.timeout_s,
            baudrate=cfg.baudrate,
            parity=cfg.parity,
            stopbits=cfg.stopbits,
            bytesize=cfg.bytesize,
        )
