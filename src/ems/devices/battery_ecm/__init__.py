"""Simulated battery with cell-level physics and a coulomb-counting BMS (``type: battery_ecm``)."""

from ems.devices.battery_ecm.bms import CoulombCounter
from ems.devices.battery_ecm.config import BmsErrorConfig, EcmBatteryConfig
from ems.devices.battery_ecm.model import EcmBatterySimulator

__all__ = ["BmsErrorConfig", "CoulombCounter", "EcmBatteryConfig", "EcmBatterySimulator"]
