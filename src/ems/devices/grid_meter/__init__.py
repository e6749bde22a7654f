"""Simulated meter at the grid connection point (``type: grid_meter``)."""

from ems.devices.grid_meter.config import GridMeterConfig
from ems.devices.grid_meter.model import GridMeterSimulator

__all__ = ["GridMeterConfig", "GridMeterSimulator"]
