"""Demand response: an OpenADR 2.0b VEN whose accepted events limit the site's grid import."""

from ems.edge.controllers.demand_response.config import DemandResponseParams
from ems.edge.controllers.demand_response.controller import DemandResponse

__all__ = ["DemandResponse", "DemandResponseParams"]
