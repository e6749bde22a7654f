"""CAN BMS driver (``can_bms``): a battery's BMS read off a CAN bus through its DBC file.

python-can and cantools are imported where they are used, not at the top: the
registry imports every driver package at start, and an edge without a CAN
device should not carry them (about 7 MB of resident memory).
"""

from ems.drivers.can_bms.config import CanBmsConfig, SignalNames
from ems.drivers.can_bms.dbc import BmsSignals, find_dbc, load_bms_signals, shipped_dbcs
from ems.drivers.can_bms.driver import CHANNELS, CanBmsDriver, ChannelSpec
from ems.drivers.can_bms.frames import FrameCache, FrameState

__all__ = [
    "CHANNELS",
    "BmsSignals",
    "CanBmsConfig",
    "CanBmsDriver",
    "ChannelSpec",
    "FrameCache",
    "FrameState",
    "SignalNames",
    "find_dbc",
    "load_bms_signals",
    "shipped_dbcs",
]
