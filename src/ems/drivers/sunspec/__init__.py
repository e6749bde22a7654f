"""SunSpec over Modbus: discovery, model parsing and the mapping onto profiles.

The model definitions are pysunspec2's JSON files, read at run time. What a
driver calls from its polling thread::

    client, regs = open_tcp(host, port, unit_id, timeout_s)   # or PymodbusRegisters(client)
    device = SunSpecDevice.attach(regs, "battery")            # once per connection
    values = device.read_values()                             # channel -> value, None if absent
    device.write_setpoint(value_w)

or the same in steps: ``discover``, ``profile_of``, ``read_values``, ``write_setpoint``.

Every failure is a ``SunSpecError`` whose ``reason`` is one of ``errors.Reason``.

The edge's ``driver: sunspec`` (:mod:`ems.drivers.sunspec.driver`) does the
above on its device's thread and translates those errors at the driver seam.
"""

from ems.drivers.sunspec.device import SunSpecDevice
from ems.drivers.sunspec.discovery import BASE_ADDRESSES, ModelRef, SunSpecMap, discover
from ems.drivers.sunspec.driver import SunSpecConfig, SunSpecDriver
from ems.drivers.sunspec.errors import Reason, SunSpecError
from ems.drivers.sunspec.mapping import Profile, profile_of, read_values
from ems.drivers.sunspec.models import ModelDef, PointDef, model_def
from ems.drivers.sunspec.reader import read_model
from ems.drivers.sunspec.scan import scan
from ems.drivers.sunspec.setpoint import write_setpoint
from ems.drivers.sunspec.transport import PymodbusRegisters, Registers, open_tcp

__all__ = [
    "BASE_ADDRESSES",
    "ModelDef",
    "ModelRef",
    "PointDef",
    "Profile",
    "PymodbusRegisters",
    "Reason",
    "Registers",
    "SunSpecConfig",
    "SunSpecDevice",
    "SunSpecDriver",
    "SunSpecError",
    "SunSpecMap",
    "discover",
    "model_def",
    "open_tcp",
    "profile_of",
    "read_model",
    "read_values",
    "scan",
    "write_setpoint",
]
