"""Registers <-> values: the 16-bit words of each data type, in either word order."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from ems.drivers.modbus.template import WIDTH, DataType, WordOrder

__all__ = ["decode", "encode"]

# Big-endian byte layout of each type (Modbus words are big-endian on the wire).
_FORMAT = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}


def decode(registers: Sequence[int], data_type: DataType, word_order: WordOrder) -> float:
    """The number held in ``registers`` (high word first when ``word_order`` is big)."""
    words = list(registers[: WIDTH[data_type]])
    if word_order == "little":
        words.reverse()
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    value: float = struct.unpack(_FORMAT[data_type], raw)[0]
    return value


def encode(value: float, data_type: DataType, word_order: WordOrder) -> list[int]:
    """The registers for ``value``; integers are rounded, and refused when out of range."""
    number: float = value if data_type == "float32" else round(value)
    try:
        raw = struct.pack(_FORMAT[data_type], number)
    except struct.error:
        raise ValueError(f"{value!r} does not fit a {data_type}") from None
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if word_order == "little":
        words.reverse()
    return words
