"""Virtual meters: channels computed every cycle from other channels, defined in the YAML.

``config`` is the YAML shape, ``plan`` checks it against the site at start
(unknown device or channel, duplicate id, unit mismatch, a loop between
meters) and orders it, ``meter`` evaluates it on each cycle's snapshot.
"""

from ems.edge.virtual_meters.config import VALUE_CHANNEL, VirtualMeterConfig
from ems.edge.virtual_meters.meter import VirtualMeters
from ems.edge.virtual_meters.plan import MeterPlan, plan_meters, site_channels

__all__ = [
    "VALUE_CHANNEL",
    "MeterPlan",
    "VirtualMeterConfig",
    "VirtualMeters",
    "plan_meters",
    "site_channels",
]
