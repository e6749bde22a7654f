"""Prices at an instant: the tariff's import and export price per kWh at a UTC time."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from ems.errors import ConfigError
from ems.tariff.config import PriceConfig, TariffConfig, day_segments
from ems.timeseries import read_csv_series, resolve_path

__all__ = ["PriceAt", "Tariff", "price_source"]

#: A price per kWh at a UTC epoch second.
PriceAt = Callable[[float], float]


@dataclass(frozen=True, slots=True)
class Tariff:
    """What energy costs at the site: prices per kWh in ``currency`` and a demand charge."""

    currency: str
    import_price_per_kwh: PriceAt
    export_price_per_kwh: PriceAt
    demand_charge_per_kw_month: float
    timezone: ZoneInfo  # the site's: months and time-of-use windows are local

    @classmethod
    def from_config(cls, config: TariffConfig, timezone: str, config_dir: Path | str) -> Tariff:
        """Build the tariff, reading any price CSV now (errors name ``tariff.import.csv`` …)."""
        tz = ZoneInfo(timezone)
        return cls(
            currency=config.currency,
            import_price_per_kwh=price_source(config.import_, tz, config_dir, "tariff.import"),
            export_price_per_kwh=price_source(config.export, tz, config_dir, "tariff.export"),
            demand_charge_per_kw_month=config.demand_charge_per_kw_month,
            timezone=tz,
        )


def price_source(config: PriceConfig, tz: ZoneInfo, config_dir: Path | str, where: str) -> PriceAt:
    """The price function ``config`` describes; ``where`` prefixes errors (``tariff.import``)."""
    if config.price_per_kwh is not None:
        constant = config.price_per_kwh
        return lambda _t_s: constant
    if config.windows is not None:
        return _WindowPrice(day_segments(config.windows), tz)
    # PriceConfig guarantees a csv with its column when neither of the above is given.
    assert config.csv is not None
    assert config.column is not None
    try:
        series = read_csv_series(resolve_path(config.csv, config_dir), [config.column])
    except ConfigError as exc:
        raise ConfigError(f"{where}.csv: {exc}") from None
    return series[config.column].step


class _WindowPrice:
    """Time-of-use price by local wall-clock time, so a 23 h or 25 h DST day keeps its windows
    at the same clock times (the night window of a spring-forward day is an hour shorter)."""

    def __init__(self, segments: list[tuple[int, int, float]], tz: ZoneInfo) -> None:
        self._starts_s = [start * 60 for start, _, _ in segments]
        self._prices = [price for _, _, price in segments]
        self._tz = tz

    def __call__(self, t_s: float) -> float:
        local = dt.datetime.fromtimestamp(t_s, self._tz)
        wall_s = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return self._prices[bisect.bisect_right(self._starts_s, wall_s) - 1]
