"""The ``sunspec`` driver: a SunSpec device over Modbus TCP as a ``battery`` or ``pv_inverter``.

The device is discovered when the driver connects (the ``SunS`` marker, the
model chain) and again after every reconnect, since a device that restarted
may answer with another map. Which models fill which channels, and where a
setpoint is written, is :mod:`ems.drivers.sunspec.mapping` and ``setpoint``.

Errors at the seam (every ``SunSpecError`` reason has one place here):

- no answer, no connection (``timeout``, ``connection_failed``):
  :class:`~ems.errors.DeviceTimeout`, retried, then ``CommunicationFailed``;
- discovery that finds garbage (no marker, a truncated model, a chain without
  end, a device whose models cannot fill the profile): a read raises
  ``DeviceTimeout`` as well (the device does not talk SunSpec as configured,
  so its inputs go stale under ``CommunicationFailed``) and is logged with its
  reason; a write raises :class:`~ems.errors.DeviceRefused`;
- a model read that the device refuses (a Modbus exception) or answers short:
  every channel is refused for that poll (``ReadErrors``) and the device is
  discovered again on the next one;
- a write refused (a Modbus exception, a setpoint the control model cannot
  express): ``DeviceRefused``, so its command fails ``device_write_failed``.

At start (:meth:`SunSpecDriver.create`) the device is probed once: when it
answers and its models cannot fill the profile, the edge refuses to start
with ``profile:`` named; a device that does not answer yet is polled as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from ems.dal import Value
from ems.drivers.base import Driver, DriverConfig, DriverContext, Reading, register_driver
from ems.drivers.sunspec.device import SunSpecDevice
from ems.drivers.sunspec.errors import Reason, SunSpecError
from ems.drivers.sunspec.link import Link, TcpLink
from ems.drivers.sunspec.mapping import Profile
from ems.errors import ConfigError, DeviceIOError, DeviceRefused, DeviceTimeout
from ems.profiles import DeviceProfile

__all__ = ["SunSpecConfig", "SunSpecDriver"]

log = logging.getLogger(__name__)

#: The profiles this driver fills: their input channels read and their one output.
_INPUTS: dict[Profile, tuple[str, ...]] = {
    "battery": ("ActivePower", "Soc", "Capacity", "MaxChargePower", "MaxDischargePower", "State"),
    "pv_inverter": ("ActivePower", "ActiveEnergy", "Voltage", "Current"),
}
_OUTPUT: dict[Profile, str] = {"battery": "SetActivePower", "pv_inverter": "SetActivePowerLimit"}

_NO_ANSWER: frozenset[Reason] = frozenset({"timeout", "connection_failed"})


class SunSpecConfig(DriverConfig):
    host: str = Field(description="Device address (a host name or IP)")
    port: int = Field(default=502, ge=1, le=65535, description="Modbus TCP port")
    unit_id: int = Field(default=1, ge=0, le=247, description="Modbus unit (slave) id")


@register_driver
class SunSpecDriver(Driver):
    type_name = "sunspec"
    config_model: ClassVar[type[DriverConfig]] = SunSpecConfig

    def __init__(
        self,
        device_id: str,
        config: DriverConfig,
        profile: DeviceProfile,
        context: DriverContext,
        link: Link | None = None,
    ) -> None:
        super().__init__(device_id, config, profile, context)
        assert isinstance(config, SunSpecConfig)
        kind = _profile(profile.type)
        if kind is None:
            known = ", ".join(sorted(_INPUTS))
            raise ConfigError(f"profile: the sunspec driver fills {known}, not {profile.type!r}")
        self.kind: Profile = kind
        self._where = f"{config.host}:{config.port} unit {config.unit_id}"
        self._link = link or TcpLink(
            config.host, config.port, config.unit_id, config.timeout_s, context.source_host
        )
        self._device: SunSpecDevice | None = None
        self._garbage: str | None = None  # the discovery failure last logged

    @classmethod
    def create(
        cls, device_id: str, config: DriverConfig, profile: DeviceProfile, context: DriverContext
    ) -> Driver:
        driver = cls(device_id, config, profile, context)
        driver.probe()
        return driver

    def probe(self) -> None:
        """Refuse a device that answers with models that cannot fill the profile."""
        try:
            self._attach()
        except SunSpecError as exc:
            if exc.reason == "model_missing":
                raise ConfigError(
                    f"profile: {self.kind} cannot be filled by the SunSpec device at "
                    f"{self._where}: {exc.detail}"
                ) from None
            # Not answering, or garbage for now: polled (and logged) like any other device.
        except OSError:
            pass  # a socket error pymodbus let through: not answering, as above
        finally:
            self.close()

    def writable(self) -> frozenset[str]:
        return frozenset({_OUTPUT[self.kind]})

    def describe(self) -> Mapping[str, Value]:
        models = "" if self._device is None else ",".join(map(str, self.model_ids()))
        return {"address": self._where, "models": models}

    def model_ids(self) -> tuple[int, ...]:
        """The models discovered on the device since the last connect (empty before)."""
        return () if self._device is None else tuple(m.model_id for m in self._device.smap.models)

    def read(self) -> Reading:
        try:
            return self._read()
        except OSError as exc:  # a socket error pymodbus let through: no answer
            raise DeviceTimeout(f"{self._where}: {exc}") from None

    def write(self, channel: str, value: Value) -> None:
        try:
            self._write(channel, value)
        except OSError as exc:
            raise DeviceTimeout(f"{self._where}: {exc}") from None

    def _read(self) -> Reading:
        try:
            device = self._attach()
        except SunSpecError as exc:
            raise self._discovery_failed(exc, DeviceTimeout) from None
        try:
            values = device.read_values()
        except SunSpecError as exc:
            if exc.reason in _NO_ANSWER:
                raise DeviceTimeout(f"{self._where}: {exc}") from None
            # The device answered, but not with the map it had: look again next poll.
            self._device = None
            return Reading(refused=dict.fromkeys(_INPUTS[self.kind], str(exc)))
        except (ValueError, ArithmeticError) as exc:  # registers no point decodes from
            self._device = None
            why = f"undecodable registers: {exc}"
            return Reading(refused=dict.fromkeys(_INPUTS[self.kind], why))
        # None: a point the device does not implement; that channel is simply not read.
        return Reading(values={n: v for n, v in values.items() if v is not None})

    def _write(self, channel: str, value: Value) -> None:
        if channel != _OUTPUT[self.kind]:
            raise DeviceRefused(f"{channel} is not written to a SunSpec {self.kind}")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise DeviceRefused(f"{channel}: {value!r} is not a number of watts")
        try:
            device = self._attach()
        except SunSpecError as exc:
            raise self._discovery_failed(exc, DeviceRefused) from None
        try:
            device.write_setpoint(None if value is None else float(value))
        except SunSpecError as exc:
            if exc.reason in _NO_ANSWER:
                raise DeviceTimeout(f"{self._where}: {exc}") from None
            if exc.reason in ("modbus_exception", "model_truncated"):
                self._device = None  # the map may have changed under us
            raise DeviceRefused(f"{self._where}: {exc}") from None

    def close(self) -> None:
        # The next connection discovers again: the device may have restarted with another map.
        self._device = None
        self._link.close()

    def _attach(self) -> SunSpecDevice:
        if self._device is None:
            regs = self._link.registers()
            self._device = SunSpecDevice.attach(regs, self.kind)
            if self._garbage is not None:
                log.info("device %s talks SunSpec again", self.device_id)
            self._garbage = None
        return self._device

    def _discovery_failed(self, exc: SunSpecError, garbage: type[DeviceIOError]) -> DeviceIOError:
        if exc.reason in _NO_ANSWER:
            return DeviceTimeout(f"{self._where}: {exc}")
        message = f"{self._where}: {exc}"
        if message != self._garbage:  # once per streak: it is retried every poll
            log.warning("device %s: SunSpec discovery failed: %s", self.device_id, message)
            self._garbage = message
        return garbage(message)


def _profile(name: str) -> Profile | None:
    if name == "battery":
        return "battery"
    if name == "pv_inverter":
        return "pv_inverter"
    return None
