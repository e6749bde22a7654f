"""Makes one configured device's simulator or driver (at start, and for a pushed config).

Errors name the device's place in the YAML (``devices[2].params.template: ...``).
"""

from __future__ import annotations

from ems.devices.base import SIMULATORS, Simulator, SiteContext
from ems.drivers.base import DRIVERS, Driver, DriverContext
from ems.edge.config import DeviceConfig, validate_params
from ems.errors import ConfigError, TemplateError
from ems.profiles import DeviceProfile

__all__ = ["build_driver", "build_simulator"]


def build_simulator(device: DeviceConfig, index: int, site: SiteContext) -> Simulator:
    """The simulator of ``device`` (``devices[index]``; it has ``simulator:``)."""
    assert device.simulator is not None
    cls = SIMULATORS.get(device.simulator)
    params = validate_params(cls.config_model, device.params, ("devices", index, "params"))
    try:
        return cls.create(device.id, params, site, device.profile)
    except ConfigError as exc:
        raise ConfigError(f"devices[{index}].{exc}") from None


def build_driver(
    device: DeviceConfig, index: int, profile: DeviceProfile, context: DriverContext
) -> Driver:
    """The driver of ``device`` (``devices[index]``; it has ``driver:``), not connected."""
    assert device.driver is not None
    cls = DRIVERS.get(device.driver)
    params = validate_params(cls.config_model, device.params, ("devices", index, "params"))
    try:
        return cls.create(device.id, params, profile, context)
    except TemplateError as exc:
        raise ConfigError(f"devices[{index}].params.template: {exc}") from None
    except ConfigError as exc:  # the driver names the field (e.g. ``profile: ...``)
        raise ConfigError(f"devices[{index}].{exc}") from None
