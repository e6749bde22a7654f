"""Device Abstraction Layer: timestamped channels shared by drivers and the cycle."""

from ems.dal.address import (
    ACK_PREFIX,
    REQUEST_PREFIX,
    Address,
    Category,
    ack_address,
    parse_address,
    request_address,
)
from ems.dal.sample import Sample, Value
from ems.dal.store import ChannelInfo, ChannelStore, Snapshot, Watcher

__all__ = [
    "ACK_PREFIX",
    "REQUEST_PREFIX",
    "Address",
    "Category",
    "ChannelInfo",
    "ChannelStore",
    "Sample",
    "Snapshot",
    "Value",
    "Watcher",
    "ack_address",
    "parse_address",
    "request_address",
]
