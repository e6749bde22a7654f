"""Simulated photovoltaic inverter (``type: pv_inverter``)."""

from ems.devices.pv_inverter.config import PvInverterConfig
from ems.devices.pv_inverter.model import PvInverterSimulator

__all__ = ["PvInverterConfig", "PvInverterSimulator"]
