"""Replayed device: a recorded or published time series played back (``simulator: replay``)."""

from ems.devices.replay.config import ReplayConfig
from ems.devices.replay.model import (
    ReplayGridSimulator,
    ReplayLoadSimulator,
    ReplayPvSimulator,
    ReplaySimulator,
)

__all__ = [
    "ReplayConfig",
    "ReplayGridSimulator",
    "ReplayLoadSimulator",
    "ReplayPvSimulator",
    "ReplaySimulator",
]
