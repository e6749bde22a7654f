"""Channel addresses: ``device/Channel``, ``ui_requests/device_what``, ``ack/device_what``.

Device ids are lower_snake with an instance number (``battery_1``), fixed ids for
singletons (``grid``, ``load``) or an underscore-led id for computed channels
(``_sum``, ``_cycle``). Channel names are UpperCamel (``Soc``, ``SetActivePower``).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

from ems.errors import InvalidAddress

__all__ = [
    "ACK_PREFIX",
    "REQUEST_PREFIX",
    "Address",
    "Category",
    "ack_address",
    "parse_address",
    "request_address",
]

REQUEST_PREFIX = "ui_requests"
ACK_PREFIX = "ack"

_DEVICE = r"_?[a-z][a-z0-9]*(?:_[a-z0-9]+)*"
_DEVICE_RE = re.compile(rf"^{_DEVICE}$")
_DEVICE_CHANNEL_RE = re.compile(rf"^(?P<device>{_DEVICE})/(?P<channel>[A-Z][A-Za-z0-9]*)$")
_COMMAND_CHANNEL_RE = re.compile(
    rf"^(?P<device>{REQUEST_PREFIX}|{ACK_PREFIX})/(?P<channel>[a-z][a-z0-9]*(?:_[a-z0-9]+)*)$"
)
_MAX_LEN = 128


class Category(StrEnum):
    """What a channel carries."""

    INPUT = "input"  # telemetry read from a device
    OUTPUT = "output"  # a setpoint written to a device
    REQUEST = "request"  # a pending operator command
    ACK = "ack"  # the final status a controller wrote for a command


class Address(NamedTuple):
    device: str
    channel: str

    def __str__(self) -> str:
        return f"{self.device}/{self.channel}"


def parse_address(address: str) -> Address:
    """Split and validate an address; raise :class:`InvalidAddress` naming the rule broken."""
    if not isinstance(address, str):
        raise InvalidAddress(f"channel address must be a string, got {type(address).__name__}")
    if len(address) > _MAX_LEN:
        raise InvalidAddress(
            f"channel address longer than {_MAX_LEN} characters: {address[:40]!r}…"
        )
    # fullmatch: ``$`` alone would also accept a trailing newline ("battery_1/Soc\n").
    m = _DEVICE_CHANNEL_RE.fullmatch(address) or _COMMAND_CHANNEL_RE.fullmatch(address)
    if m is None:
        raise InvalidAddress(
            f"malformed channel address {address!r}: expected 'device_1/UpperCamel', "
            f"'{REQUEST_PREFIX}/device_1_what' or '{ACK_PREFIX}/device_1_what'"
        )
    if m.re is _DEVICE_CHANNEL_RE and m["device"] in (REQUEST_PREFIX, ACK_PREFIX):
        raise InvalidAddress(
            f"malformed channel address {address!r}: {m['device']!r} channels are named "
            f"'{m['device']}/device_1_what', not UpperCamel"
        )
    return Address(m["device"], m["channel"])


def category_of_command_channel(address: str) -> Category | None:
    """``REQUEST`` or ``ACK`` for command channels, ``None`` for device channels."""
    if address.startswith(REQUEST_PREFIX + "/"):
        return Category.REQUEST
    if address.startswith(ACK_PREFIX + "/"):
        return Category.ACK
    return None


def check_device_id(device_id: str) -> str:
    reserved = (REQUEST_PREFIX, ACK_PREFIX)
    if (
        not isinstance(device_id, str)
        or not _DEVICE_RE.fullmatch(device_id)
        or device_id in reserved
    ):
        raise InvalidAddress(
            f"malformed device id {device_id!r}: expected lower_snake like 'battery_1' or 'grid'"
        )
    return device_id


def request_address(device_id: str, what: str) -> str:
    """``ui_requests/<device>_<what>``, e.g. ``ui_requests/battery_1_power``."""
    return _command_address(REQUEST_PREFIX, device_id, what)


def ack_address(device_id: str, what: str) -> str:
    """``ack/<device>_<what>``, e.g. ``ack/battery_1_power``."""
    return _command_address(ACK_PREFIX, device_id, what)


def _command_address(prefix: str, device_id: str, what: str) -> str:
    """Build a command-channel address, refusing parts that would make a malformed one."""
    check_device_id(device_id)
    address = f"{prefix}/{device_id}_{what}"
    parse_address(address)
    return address
