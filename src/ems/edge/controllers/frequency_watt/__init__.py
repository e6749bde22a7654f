"""Frequency-watt: active power is curtailed when the grid frequency rises above nominal."""

from ems.edge.controllers.frequency_watt.config import FrequencyWattParams
from ems.edge.controllers.frequency_watt.controller import FrequencyWatt

__all__ = ["FrequencyWatt", "FrequencyWattParams"]
