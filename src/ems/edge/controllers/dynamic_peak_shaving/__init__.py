"""Dynamic peak shaving: the threshold follows the forecast and the month's billed peak."""

from ems.edge.controllers.dynamic_peak_shaving.config import DynamicPeakShavingParams
from ems.edge.controllers.dynamic_peak_shaving.controller import DynamicPeakShaving

__all__ = ["DynamicPeakShaving", "DynamicPeakShavingParams"]
