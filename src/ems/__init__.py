"""EMS: an Energy Management System with an edge runtime and a cloud dispatcher.

Sign conventions everywhere (DAL, wire, UI, database): battery ``ActivePower`` > 0
discharging, < 0 charging; grid ``ActivePower`` > 0 importing, < 0 exporting; PV and
load ``ActivePower`` >= 0. Power in W, energy in Wh, SOC in %, time in UTC.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
