"""Drivers: real devices beside the simulators, filling the same profile channels.

The seam (DESIGN section 12): a device in the edge YAML names either a
``simulator:`` or a ``driver:``; a driver is a class registered by name in
:data:`~ems.drivers.base.DRIVERS` from its own folder here (``modbus/``,
``sunspec/``, …). :mod:`ems.drivers.base` says what a driver implements;
:mod:`ems.drivers.host` runs them off the cycle's thread.
"""

from ems.drivers.base import (
    DRIVERS,
    Driver,
    DriverConfig,
    DriverContext,
    Reading,
    register_driver,
)

__all__ = ["DRIVERS", "Driver", "DriverConfig", "DriverContext", "Reading", "register_driver"]
