"""What the grid-support controllers share (fixed power factor, volt-var, frequency-watt).

They act on one inverter-based device (a battery or a PV inverter, named by its
``device`` parameter), read the grid's voltage or frequency from a meter, and say
what they are doing in ``<controller id>/State``: a stable lower_snake code, and
with it a log line whenever it changes (a warning when inputs are missing or stale).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ems.edge.context import CycleContext
from ems.profiles import DeviceProfile

__all__ = ["StateReporter", "check_device_with", "meter_of"]

log = logging.getLogger(__name__)


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


class StateReporter:
    """Writes ``<controller id>/State`` every cycle and logs each change of it."""

    def __init__(self, controller_id: str) -> None:
        self._id = controller_id
        self.state = "starting"

    def report(self, ctx: CycleContext, state: str, detail: str = "") -> None:
        if state != self.state:
            level = logging.WARNING if state.endswith("_inputs") else logging.INFO
            log.log(level, "%s: %s%s", self._id, state, f" ({detail})" if detail else "")
        self.state = state
        ctx.status("State", state)
