"""A site's simulated PV inverters and batteries behind SunSpec maps, stepped by time.

The simulators are the edge's own (from the site YAML); each step publishes
their channels into the device's map, and each write a client makes to a map's
control registers becomes the simulator's setpoint, timestamped at the write,
so the simulator's own watchdog drops it when the client stops writing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ems.dal import Sample, Value
from ems.devices.base import SIMULATORS, SimulatorConfig, SiteContext
from ems.devices.base import Simulator as SimulatorBase
from ems.drivers.sunspec.served import SERVED_PROFILES, ServedDevice
from ems.edge.config import EdgeConfig, validate_params
from ems.errors import ConfigError

__all__ = ["ServedSite", "SiteDevice"]

log = logging.getLogger(__name__)

# What a device can deliver when its simulator's parameters do not say: the
# reference the served percentages are taken of.
_DEFAULT_RATING_W = 10_000.0


@dataclass
class SiteDevice:
    simulator: SimulatorBase
    served: ServedDevice
    setpoints: dict[str, Sample]
    last_s: float | None = None


class ServedSite:
    """The served devices of one site; ``lock`` guards every map and setpoint."""

    def __init__(self, devices: Sequence[SiteDevice]) -> None:
        self.devices = {d.served.device_id: d for d in devices}
        self.lock = threading.Lock()

    @classmethod
    def from_config(cls, config: EdgeConfig) -> ServedSite:
        """Every simulated ``pv_inverter`` and ``battery`` of the site; ``ConfigError`` if none."""
        site = SiteContext(
            config.site.latitude_deg,
            config.site.longitude_deg,
            config.site.altitude_m,
            config.site.timezone,
            config_dir=str(config.config_dir),
        )
        devices: list[SiteDevice] = []
        for i, device in enumerate(config.devices):
            served_cls = SERVED_PROFILES.get(device.profile)
            if device.simulator is None or served_cls is None:
                continue
            sim_cls = SIMULATORS.get(device.simulator)
            params = validate_params(sim_cls.config_model, device.params, ("devices", i, "params"))
            simulator = sim_cls.create(device.id, params, site, device.profile)
            devices.append(SiteDevice(simulator, served_cls(device.id, _rating_w(params)), {}))
        if not devices:
            raise ConfigError("devices: no simulated pv_inverter or battery to serve")
        return cls(devices)

    def step(self, now_s: float) -> dict[str, dict[str, Value]]:
        """Advance every simulator to ``now_s`` (UTC epoch s) and publish into its map.

        Returns each device's channels as its simulator gave them.
        """
        stepped: dict[str, dict[str, Value]] = {}
        for device_id, device in self.devices.items():
            dt_s = 0.0 if device.last_s is None else now_s - device.last_s
            device.last_s = now_s
            with self.lock:
                setpoints = dict(device.setpoints)
            try:
                channels = device.simulator.step(now_s, dt_s, setpoints)
            except Exception:
                # As the edge's simulation host does: one failing model must not
                # take the other devices' servers down; the map keeps its last values.
                log.exception("simulator %s failed; its map keeps the last values", device_id)
                continue
            with self.lock:
                device.served.publish(channels)
            stepped[device_id] = channels
        return stepped

    def read(self, device_id: str, address: int, count: int) -> list[int]:
        """Registers of a device's map (the caller checked the range)."""
        image = self.devices[device_id].served.image
        with self.lock:
            start = address - image.base
            return image.words[start : start + count]

    def write(self, device_id: str, address: int, values: Sequence[int], now_s: float) -> None:
        """A client wrote registers: store them and take the setpoints they now say."""
        device = self.devices[device_id]
        image = device.served.image
        with self.lock:
            start = address - image.base
            image.words[start : start + len(values)] = [int(v) for v in values]
            device.setpoints = {
                name: Sample(value, now_s) for name, value in device.served.setpoints().items()
            }


def _rating_w(params: SimulatorConfig) -> float:
    """An inverter's AC limit; a battery's larger power limit, as one reference covers both ways."""
    names = ("inverter_max_power_w", "max_charge_power_w", "max_discharge_power_w")
    found = [getattr(params, n, None) for n in names]
    ratings = [float(v) for v in found if isinstance(v, int | float) and v > 0]
    return max(ratings) if ratings else _DEFAULT_RATING_W
