"""One SunSpec device bound to a profile: what a driver keeps between polls."""

from __future__ import annotations

from dataclasses import dataclass

from ems.drivers.sunspec.discovery import SunSpecMap, discover
from ems.drivers.sunspec.errors import SunSpecError
from ems.drivers.sunspec.mapping import ChannelValue, Profile, profile_of, read_values
from ems.drivers.sunspec.setpoint import write_setpoint
from ems.drivers.sunspec.transport import Registers

__all__ = ["SunSpecDevice"]


@dataclass(frozen=True)
class SunSpecDevice:
    regs: Registers
    smap: SunSpecMap
    profile: Profile

    @classmethod
    def attach(cls, regs: Registers, profile: Profile | None = None) -> SunSpecDevice:
        """Discover the device and check it can fill ``profile`` (None: the one it fills).

        A battery asked of a device without a storage model (124, 713), or a
        profile asked of a device with no inverter model, is ``model_missing``
        now rather than a device that silently reads nothing at every poll.
        """
        smap = discover(regs)
        found = profile_of(smap)
        if found is None:
            raise SunSpecError("model_missing", "no inverter or storage model on the device")
        if profile == "battery" and found != "battery":
            raise SunSpecError("model_missing", "a battery needs a storage model (124 or 713)")
        return cls(regs, smap, profile or found)

    def read_values(self) -> dict[str, ChannelValue]:
        """The profile's input channels now; None where the device does not implement one."""
        return read_values(self.regs, self.smap, self.profile)

    def write_setpoint(self, value_w: float | None) -> None:
        """The profile's output: a battery's power (> 0 discharge) or a PV limit (None: off)."""
        write_setpoint(self.regs, self.smap, self.profile, value_w)
