"""Point values to and from 16-bit registers, big-endian as SunSpec requires.

A point whose registers hold the type's "not implemented" pattern (0x8000 for
int16, 0xFFFF for uint16/enum16, 0 for accumulators, NaN for floats, a leading
NUL for strings, ...) decodes to ``None``.
"""

from __future__ import annotations

import math
import struct

from ems.drivers.sunspec.models import PointDef

__all__ = ["Raw", "decode", "encode", "encode_string", "scale", "unimplemented", "unscale"]

Raw = int | float | str | None

# struct formats of the numeric types, and their "not implemented" raw value.
_NUMERIC: dict[str, tuple[str, int | None]] = {
    "int16": (">h", -0x8000),
    "sunssf": (">h", -0x8000),
    "uint16": (">H", 0xFFFF),
    "count": (">H", 0xFFFF),
    "enum16": (">H", 0xFFFF),
    "bitfield16": (">H", 0xFFFF),
    "acc16": (">H", 0),
    "pad": (">H", None),
    "int32": (">i", -0x80000000),
    "uint32": (">I", 0xFFFFFFFF),
    "enum32": (">I", 0xFFFFFFFF),
    "bitfield32": (">I", 0xFFFFFFFF),
    "acc32": (">I", 0),
    "ipaddr": (">I", 0),
    "int64": (">q", -0x8000000000000000),
    "uint64": (">Q", 0xFFFFFFFFFFFFFFFF),
    "acc64": (">Q", 0),
    "float32": (">f", None),
    "float64": (">d", None),
}


def _to_bytes(words: list[int]) -> bytes:
    return b"".join(struct.pack(">H", w & 0xFFFF) for w in words)


def decode(point: PointDef, words: list[int]) -> Raw:
    """The raw (unscaled) value of ``point`` from exactly its registers; None if unimplemented."""
    data = _to_bytes(words)
    if point.type == "string":
        if not data or data[0] == 0:
            return None
        return data.rstrip(b"\0").decode("utf-8", errors="replace")
    fmt = _NUMERIC.get(point.type)
    if fmt is None:
        return None  # eui48, ipv6addr: addresses, nothing the profiles use
    (value,) = struct.unpack(fmt[0], data[: struct.calcsize(fmt[0])])
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if fmt[1] is not None and value == fmt[1]:
        return None
    return int(value)


def encode(point: PointDef, value: int | float) -> list[int]:
    """Registers holding raw ``value`` (already divided by the scale factor) for ``point``."""
    fmt = _NUMERIC.get(point.type)
    if fmt is None:
        raise ValueError(f"{point.name}: cannot write a {point.type} point")
    packed = struct.pack(fmt[0], value if fmt[0] in (">f", ">d") else int(value))
    return [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]


def scale(raw: Raw, sf: int | None) -> float | None:
    """``raw × 10^sf``, rounded to the digits ``sf`` gives; None when either is missing."""
    if raw is None or isinstance(raw, str) or sf is None:
        return None
    return round(raw * 10.0**sf, max(0, -sf))


def unscale(value: float, sf: int | None) -> int:
    """The raw integer that scales to ``value`` (nearest)."""
    return round(value / 10.0 ** (sf or 0))


def unimplemented(point: PointDef) -> list[int]:
    """The registers that say "not implemented" for ``point``."""
    fmt = _NUMERIC.get(point.type)
    if fmt is None or fmt[1] is None:
        if point.type in ("float32", "float64"):
            return encode(point, math.nan)
        return [0] * point.size_regs  # strings (leading NUL), pad, addresses
    return encode(point, fmt[1])


def encode_string(text: str, size_regs: int) -> list[int]:
    """``text`` in ``size_regs`` registers, UTF-8, NUL-padded (cut if longer)."""
    data = text.encode("utf-8")[: size_regs * 2].ljust(size_regs * 2, b"\0")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
