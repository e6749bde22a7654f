"""Fixed power factor: an inverter's reactive power follows its active power."""

from ems.edge.controllers.fixed_power_factor.config import FixedPowerFactorParams
from ems.edge.controllers.fixed_power_factor.controller import FixedPowerFactor

__all__ = ["FixedPowerFactor", "FixedPowerFactorParams"]
