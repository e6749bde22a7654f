"""Peak shaving: the battery discharges whatever grid import exceeds a threshold."""

from ems.edge.controllers.peak_shaving.config import PeakShavingParams
from ems.edge.controllers.peak_shaving.controller import PeakShaving

__all__ = ["PeakShaving", "PeakShavingParams"]
