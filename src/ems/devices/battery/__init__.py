"""Simulated battery energy storage system (``type: battery``)."""

from ems.devices.battery.config import BatteryConfig
from ems.devices.battery.model import BatterySimulator

__all__ = ["BatteryConfig", "BatterySimulator"]
