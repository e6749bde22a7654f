"""What the grid-support controllers share (fixed power factor, volt-var, frequency-watt).

They act on one inverter-based device (a battery or a PV inverter, named by its
``device`` parameter), read the grid's voltage or frequency from a meter, and say
what they are doing in ``<controller id>/State`` (through
:class:`~ems.edge.controllers.state.StateReporter`, as every closed-loop controller).
"""

from __future__ import annotations

from collections.abc import Mapping

from ems.profiles import DeviceProfile

__all__ = ["check_device_with", "meter_of"]


def check_device_with(
    devices: Mapping[str, DeviceProfile], device: str, channels: tuple[str, ...], field: str
) -> str:
    """``device`` if this site has it with every channel of ``channels``; else ``ValueError``
    naming the parameter ``field``."""
    profile = devices.get(device)
    if profile is None:
        raise ValueError(f"{field}: {device!r} is not a device of this site")
    absent = [c for c in channels if c not in profile.channels]
    if absent:
        raise ValueError(f"{field}: {device!r} ({profile.type}) has no channel {absent[0]}")
    return device


def meter_of(
    devices: Mapping[str, DeviceProfile], wanted: str | None, channel: str, field: str
) -> str:
    """The device whose ``channel`` (``Voltage``, ``Frequency``) is read: ``wanted``,
    else the site's only grid meter."""
    if wanted is not None:
        return check_device_with(devices, wanted, (channel,), field)
    grids = sorted(d for d, p in devices.items() if p.type == "grid_meter")
    if len(grids) != 1:
        found = ", ".join(grids) or "none"
        raise ValueError(f"{field}: give the device to read {channel} from (grid meters: {found})")
    return grids[0]
