"""Simulated meter of the site's consumption (``type: load_meter``)."""

from ems.devices.load_meter.config import LoadMeterConfig
from ems.devices.load_meter.model import LoadMeterSimulator

__all__ = ["LoadMeterConfig", "LoadMeterSimulator"]
