"""The ``tariff:`` block of the edge YAML (DESIGN.md §13): prices per kWh, a monthly demand charge.

::

    tariff:
      currency: EUR
      import: {windows: [{from: "00:00", to: "07:00", price_per_kwh: 0.22}, ...]}
      # or import: {price_per_kwh: 0.30}   or   import: {csv: prices.csv, column: price_per_kwh}
      export: {price_per_kwh: 0.08}
      demand_charge_per_kw_month: 0        # on the month's highest 15-min mean import

Window times are the site's local wall-clock time, ``"HH:MM"`` with ``"24:00"``
allowed as an end; together the windows cover the day exactly once (a window
may run past midnight, e.g. 22:00 to 06:00). Prices may be negative (dynamic
tariffs pay for consumption at times); a price CSV holds each row's price until
the next row.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["MINUTES_PER_DAY", "PriceConfig", "TariffConfig", "TouWindow", "day_segments"]

MINUTES_PER_DAY = 1440
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class _Strict(BaseModel):
    # Only the YAML spellings ("import", "from") are accepted, not the Python names.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _minutes(text: str) -> int:
    m = _HHMM.match(text)
    if m is None or (int(m[1]) == 24 and m[2] != "00"):
        raise ValueError(f'{text!r} is not a time "HH:MM" between "00:00" and "24:00"')
    return int(m[1]) * 60 + int(m[2])


class TouWindow(_Strict):
    """One time-of-use window of local wall-clock time, ``[from, to)``."""

    from_: str = Field(alias="from", description='Start, local "HH:MM".')
    to: str = Field(description='End, local "HH:MM" ("24:00" = midnight at the end of the day).')
    price_per_kwh: float = Field(allow_inf_nan=False, description="Price in the currency per kWh.")

    @field_validator("from_", "to")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        _minutes(value)
        return value

    @property
    def from_min(self) -> int:
        return _minutes(self.from_) % MINUTES_PER_DAY  # "24:00" as a start is midnight

    @property
    def to_min(self) -> int:
        return _minutes(self.to)


def day_segments(windows: list[TouWindow]) -> list[tuple[int, int, float]]:
    """``(start_min, end_min, price)`` covering ``[0, 1440)`` in order; a window that runs
    past midnight is split in two. Raises ``ValueError`` on a gap, an overlap or an
    empty window."""
    segments: list[tuple[int, int, float]] = []
    for w in windows:
        start, end = w.from_min, w.to_min
        if end == start:
            raise ValueError(f"window {w.from_}-{w.to} is empty")
        if start < end:
            segments.append((start, end, w.price_per_kwh))
        else:  # runs past midnight
            segments.append((start, MINUTES_PER_DAY, w.price_per_kwh))
            if end > 0:
                segments.append((0, end, w.price_per_kwh))
    segments.sort()
    at = 0
    for start, end, _ in segments:
        if start > at:
            raise ValueError(f"no window covers {_hhmm(at)}-{_hhmm(start)}")
        if start < at:
            raise ValueError(f"windows overlap at {_hhmm(start)}-{_hhmm(min(at, end))}")
        at = end
    if at < MINUTES_PER_DAY:
        raise ValueError(f"no window covers {_hhmm(at)}-24:00")
    return segments


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class PriceConfig(_Strict):
    """One price source: a constant, time-of-use windows, or a CSV column (exactly one)."""

    price_per_kwh: float | None = Field(
        default=None, allow_inf_nan=False, description="Constant price per kWh."
    )
    windows: list[TouWindow] | None = Field(
        default=None, min_length=1, description="Time-of-use windows of local time."
    )
    csv: str | None = Field(
        default=None, min_length=1, description="Price file; relative to the config's folder."
    )
    column: str | None = Field(default=None, description="The CSV's price column (per kWh).")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [n for n in ("price_per_kwh", "windows", "csv") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of price_per_kwh, windows or csv "
                f"(got {', '.join(given) or 'none'})"
            )
        if self.csv is not None and self.column is None:
            raise ValueError("csv needs column, the name of its price column")
        if self.csv is None and self.column is not None:
            raise ValueError("column belongs with csv")
        if self.windows is not None:
            try:
                day_segments(self.windows)
            except ValueError as exc:
                raise ValueError(f"windows: {exc}") from None
        return self


class TariffConfig(_Strict):
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")
    import_: PriceConfig = Field(alias="import", description="Price of energy drawn from the grid.")
    export: PriceConfig = Field(
        default=PriceConfig(price_per_kwh=0.0), description="Price paid for energy fed in."
    )
    demand_charge_per_kw_month: float = Field(
        default=0.0,
        ge=0,
        allow_inf_nan=False,
        description="Charged per kW of each local calendar month's highest 15-min mean import.",
    )
