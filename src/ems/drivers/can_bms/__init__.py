"""CAN BMS driver (``can_bms``): a battery's BMS read off a CAN bus through its DBC file."""

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
