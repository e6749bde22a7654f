"""What a site's grid exchange costs: energy at the tariff's prices plus monthly demand charges.

Power is given per interval (``grid_w`` flowing over ``[start_s, start_s + duration_s)``,
> 0 importing), as a control cycle or a meter reading has it. Intervals are cut
at quarter hours, so each piece lies in one 15-min demand interval and one
calendar month; a piece is priced at its start.

Demand intervals are the quarter hours of UTC, which are the local quarter
hours of every zone whose offset is a whole number of quarter hours (all in
use today). Each belongs to the local calendar month of its start, so a DST
month keeps exactly its own hours. The demand charge applies to every month the
accumulated intervals touch, on that month's highest 15-min mean import
(import energy of the quarter hour / 0.25 h).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ems.tariff.prices import Tariff

__all__ = ["DEMAND_INTERVAL_S", "CostAccumulator", "MonthBill"]

DEMAND_INTERVAL_S = 900.0
_WH_PER_KWH = 1000.0


@dataclass(slots=True)
class MonthBill:
    """One local calendar month (``"2026-03"``); energy in kWh, power in W, money in currency."""

    month: str
    import_kwh: float = 0.0
    export_kwh: float = 0.0
    import_cost: float = 0.0
    export_revenue: float = 0.0
    peak_import_15min_w: float = 0.0
    demand_charge: float = 0.0

    @property
    def cost(self) -> float:
        return self.import_cost - self.export_revenue + self.demand_charge


class CostAccumulator:
    """Sums a grid power time series into monthly bills; without a tariff, energy and peaks only."""

    def __init__(self, tariff: Tariff | None, timezone: ZoneInfo) -> None:
        self._tariff = tariff
        self._tz = tariff.timezone if tariff is not None else timezone
        self._months: dict[str, MonthBill] = {}
        self._bucket = -math.inf  # index of the open quarter hour (epoch // 900)
        self._bucket_month: MonthBill | None = None
        self._bucket_import_wh = 0.0

    def add(self, start_s: float, duration_s: float, grid_w: float) -> None:
        """Account ``grid_w`` (W, > 0 import) flowing for ``duration_s`` from ``start_s``."""
        t, end = start_s, start_s + duration_s
        while t < end:
            bucket = math.floor(t / DEMAND_INTERVAL_S)
            piece_end = min(end, (bucket + 1) * DEMAND_INTERVAL_S)
            self._add_piece(bucket, t, piece_end - t, grid_w)
            t = piece_end

    def _add_piece(self, bucket: int, t_s: float, dt_s: float, grid_w: float) -> None:
        if bucket != self._bucket:
            self._update_peak()
            self._bucket = bucket
            self._bucket_month = self._month(bucket * DEMAND_INTERVAL_S)
            self._bucket_import_wh = 0.0
        bill = self._bucket_month
        assert bill is not None
        energy_kwh = abs(grid_w) * dt_s / 3600.0 / _WH_PER_KWH
        if grid_w > 0:
            bill.import_kwh += energy_kwh
            self._bucket_import_wh += energy_kwh * _WH_PER_KWH
            if self._tariff is not None:
                bill.import_cost += energy_kwh * self._tariff.import_price_per_kwh(t_s)
        elif grid_w < 0:
            bill.export_kwh += energy_kwh
            if self._tariff is not None:
                bill.export_revenue += energy_kwh * self._tariff.export_price_per_kwh(t_s)

    def _update_peak(self) -> None:
        """Raise the open quarter hour's month peak to its mean import so far; the open
        quarter hour only ever gains energy, so doing this again later is harmless."""
        bill = self._bucket_month
        if bill is None:
            return
        mean_w = self._bucket_import_wh * 3600.0 / DEMAND_INTERVAL_S
        if mean_w > bill.peak_import_15min_w:
            bill.peak_import_15min_w = mean_w
            if self._tariff is not None:
                bill.demand_charge = self._tariff.demand_charge_per_kw_month * mean_w / _WH_PER_KWH

    def _month(self, t_s: float) -> MonthBill:
        key = dt.datetime.fromtimestamp(t_s, self._tz).strftime("%Y-%m")
        bill = self._months.get(key)
        if bill is None:
            bill = self._months[key] = MonthBill(key)
        return bill

    def months(self) -> list[MonthBill]:
        """The bills so far, oldest first (the open quarter hour's peak included);
        accumulating may go on after."""
        self._update_peak()
        return [self._months[k] for k in sorted(self._months)]

    @property
    def has_tariff(self) -> bool:
        return self._tariff is not None
