"""From a telemetry frame's channels to store rows."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from ems.cloud.telemetry.model import TelemetryRow

__all__ = ["SampleLike", "rows_from_frame"]


class SampleLike(Protocol):
    """What :func:`rows_from_frame` reads: ``ChannelSample`` from ``ems.protocol.frames`` fits."""

    @property
    def v(self) -> object: ...

    @property
    def t(self) -> datetime: ...


def rows_from_frame(edge_id: str, channels: Mapping[str, SampleLike]) -> list[TelemetryRow]:
    """One row per channel that carries a value.

    Numbers go to ``value`` (booleans as 0.0/1.0), strings to ``text``. A
    ``None`` value (a channel without a reading) and a non-finite float are
    skipped: neither is a measurement, and NaN would poison every average of
    its bucket. ``t`` must be timezone-aware (the wire's ``Timestamp`` is).
    Raises ``TypeError`` for any other value type, since the frame validator
    admits none.
    """
    rows: list[TelemetryRow] = []
    for channel, sample in channels.items():
        v = sample.v
        if v is None:
            continue
        time_s = sample.t.timestamp()
        if isinstance(v, bool):  # before int: bool is an int subclass
            rows.append(TelemetryRow(time_s, edge_id, channel, 1.0 if v else 0.0, None))
        elif isinstance(v, int | float):
            number = _finite(v)
            if number is not None:
                rows.append(TelemetryRow(time_s, edge_id, channel, number, None))
        elif isinstance(v, str):
            rows.append(TelemetryRow(time_s, edge_id, channel, None, v))
        else:
            raise TypeError(f"{edge_id} {channel}: unsupported telemetry value {v!r}")
    return rows


def _finite(v: int | float) -> float | None:
    try:
        number = float(v)
    except OverflowError:  # an int beyond the float range
        return None
    return number if math.isfinite(number) else None
