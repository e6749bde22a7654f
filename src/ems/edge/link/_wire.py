"""Small conversions between DAL values and wire-frame fields."""

from __future__ import annotations

import numbers
from datetime import UTC, datetime

from ems.dal import Value

__all__ = ["WireValue", "utc_datetime", "wire_value"]

WireValue = bool | int | float | str | None


def utc_datetime(epoch_s: float) -> datetime:
    """UTC epoch seconds → an aware ``datetime`` (frames take datetimes, not strings)."""
    return datetime.fromtimestamp(epoch_s, UTC)


def wire_value(value: Value) -> WireValue:
    """A channel value in a type the strict frame models accept.

    Drivers may hand the DAL numpy scalars (``numpy.int64`` is not an ``int``);
    they become plain Python numbers. Mappings (request/ack values) have no
    telemetry form and raise ``TypeError``.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not a telemetry value")
