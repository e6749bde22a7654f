"""Self-consumption: the battery holds the grid at a target (0 W: no import, no export)."""

from ems.edge.controllers.self_consumption.config import SelfConsumptionParams
from ems.edge.controllers.self_consumption.controller import SelfConsumption

__all__ = ["SelfConsumption", "SelfConsumptionParams"]
