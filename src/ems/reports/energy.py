"""The energy report's figures, from 15-min rollups of the site totals (DESIGN 15).

Sign conventions as everywhere: grid > 0 import, battery (``_sum/EssActivePower``)
> 0 discharging, production and consumption >= 0. Energies in kWh, powers in W,
money in the tariff's currency, carbon in kg CO2.

- **Energy**: import / export and discharge / charge come from the rollups'
  separate in and out sums, so a quarter hour that holds both keeps both.
- **Cost**: each quarter hour's energy at the price at its start (tariff windows
  are quarter-hour aligned), plus, for each local calendar month the period
  touches, the demand charge on that month's highest 15-min mean import within
  the period — the figure ``ems simulate`` prints for the same run.
- **Peaks**: the five quarter hours of highest mean import per billing month.
- **Savings**: *without battery*, each quarter's grid power is recomputed as
  grid + battery (what the grid would have carried), split into import and
  export on the quarter's means, priced the same way. *Flat threshold*: the
  same site with an ideal peak shaver at ``baseline_threshold_w`` instead of
  the real battery: the no-battery energy cost, with each month's demand
  charge on min(no-battery peak, threshold) (shaving moves energy, it does not
  remove it).
- **Carbon avoided** (grid-mix factor at each quarter's start): PV is credited
  with the grid import it displaced without a battery (consumption − no-battery
  import), the battery with what it displaced on top (no-battery import − import);
  energy exported is not credited. The battery's share is positive when it
  stores PV surplus for later or shifts grid energy into cleaner hours, and
  negative when it charges from the grid at dirtier hours or its losses outweigh.
- **Coverage**: quarter hours with grid samples, out of the period's; a missing
  quarter counts as no energy.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ems.cloud.telemetry.rollup import RollupPoint
from ems.reports.period import Period, PeriodKind
from ems.reports.site import ReportSite
from ems.timefmt import to_rfc3339

__all__ = ["CHANNELS", "QUARTER_S", "EnergyReport", "compute_report"]

QUARTER_S = 900
GRID = "_sum/GridActivePower"
PRODUCTION = "_sum/ProductionActivePower"
BATTERY = "_sum/EssActivePower"
CONSUMPTION = "_sum/ConsumptionActivePower"
#: The site totals a report reads (``ems.edge.site_totals``).
CHANNELS = (GRID, PRODUCTION, BATTERY, CONSUMPTION)
TOP_PEAKS = 5
_QUARTER_H = QUARTER_S / 3600.0


@dataclass(slots=True)
class _Sums:
    consumption_kwh: float = 0.0
    production_kwh: float = 0.0
    battery_charge_kwh: float = 0.0
    battery_discharge_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    cost: float = 0.0  # energy only, demand charges are monthly

    def add(self, other: _Sums) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(slots=True)
class _Month:
    key: str  # "2026-03", local
    quarters: list[tuple[int, float]] = field(default_factory=list)  # (bucket_s, import W)
    peak_w: float = 0.0
    no_battery_peak_w: float = 0.0


@dataclass(frozen=True, slots=True)
class EnergyReport:
    """The figures as one JSON-ready mapping (``data``) plus what the renderers need."""

    data: dict[str, Any]
    chart: list[dict[str, Any]]  # per hour (day reports) or per local day

    @property
    def currency(self) -> str | None:
        cost = self.data["cost"]
        return None if cost is None else str(cost["currency"])


def compute_report(
    edge_id: str,
    period: Period,
    site: ReportSite,
    quarters: Mapping[str, Sequence[RollupPoint]],
) -> EnergyReport:
    """The report of ``edge_id`` over ``period`` from 15-min rollups of :data:`CHANNELS`."""
    by_channel = {ch: {p.bucket_s: p for p in quarters.get(ch, ())} for ch in CHANNELS}
    tariff = site.tariff
    carbon_at = site.carbon_g_per_kwh
    start_s, end_s = period.start_s, period.end_s
    first_q = math.ceil(start_s / QUARTER_S) * QUARTER_S
    total = _Sums()
    charts: dict[float, _Sums] = {}
    months: dict[str, _Month] = {}
    no_battery = {"import_kwh": 0.0, "export_kwh": 0.0, "cost": 0.0}
    carbon_pv_g = carbon_battery_g = 0.0
    covered = count = 0
    for bucket in range(int(first_q), int(end_s), QUARTER_S):
        count += 1
        grid = by_channel[GRID].get(bucket)
        if grid is None:
            continue
        covered += 1
        pv = by_channel[PRODUCTION].get(bucket)
        bat = by_channel[BATTERY].get(bucket)
        load = by_channel[CONSUMPTION].get(bucket)
        q = _Sums(
            consumption_kwh=_kwh(load.energy_in_wh) if load else 0.0,
            production_kwh=_kwh(pv.energy_in_wh) if pv else 0.0,
            battery_charge_kwh=_kwh(bat.energy_out_wh) if bat else 0.0,
            battery_discharge_kwh=_kwh(bat.energy_in_wh) if bat else 0.0,
            grid_import_kwh=_kwh(grid.energy_in_wh),
            grid_export_kwh=_kwh(grid.energy_out_wh),
        )
        nb_mean_w = grid.mean_w + (bat.mean_w if bat else 0.0)
        nb_import_kwh = max(nb_mean_w, 0.0) * _QUARTER_H / 1000.0
        nb_export_kwh = max(-nb_mean_w, 0.0) * _QUARTER_H / 1000.0
        if tariff is not None:
            ip, ep = tariff.import_price_per_kwh(bucket), tariff.export_price_per_kwh(bucket)
            q.cost = q.grid_import_kwh * ip - q.grid_export_kwh * ep
            no_battery["cost"] += nb_import_kwh * ip - nb_export_kwh * ep
        no_battery["import_kwh"] += nb_import_kwh
        no_battery["export_kwh"] += nb_export_kwh
        if carbon_at is not None:
            factor = carbon_at(bucket)
            carbon_pv_g += factor * max(q.consumption_kwh - nb_import_kwh, 0.0)
            carbon_battery_g += factor * (nb_import_kwh - q.grid_import_kwh)
        total.add(q)
        charts.setdefault(_chart_key(period, bucket), _Sums()).add(q)
        local = period.local(bucket)
        month = months.setdefault(local.strftime("%Y-%m"), _Month(local.strftime("%Y-%m")))
        import_w = q.grid_import_kwh * 1000.0 / _QUARTER_H
        month.quarters.append((bucket, import_w))
        month.peak_w = max(month.peak_w, import_w)
        month.no_battery_peak_w = max(month.no_battery_peak_w, nb_import_kwh * 1000 / _QUARTER_H)

    rate = tariff.demand_charge_per_kw_month if tariff is not None else 0.0
    demand = sum(rate * m.peak_w / 1000.0 for m in months.values())
    cost: dict[str, Any] | None = None
    savings: dict[str, Any] = {
        "no_battery": {
            "grid_import_kwh": no_battery["import_kwh"],
            "grid_export_kwh": no_battery["export_kwh"],
            "peak_import_15min_w": max((m.no_battery_peak_w for m in months.values()), default=0.0),
        },
        "flat_threshold": None,
    }
    if tariff is not None:
        energy_cost = total.cost
        cost = {
            "currency": tariff.currency,
            "energy": energy_cost,
            "demand_charge": demand,
            "total": energy_cost + demand,
        }
        nb_demand = sum(rate * m.no_battery_peak_w / 1000.0 for m in months.values())
        nb_total = no_battery["cost"] + nb_demand
        savings["no_battery"].update(cost=nb_total, savings=nb_total - cost["total"])
        threshold = site.baseline_threshold_w
        if threshold is not None:
            flat_demand = sum(
                rate * min(m.no_battery_peak_w, threshold) / 1000.0 for m in months.values()
            )
            flat_total = no_battery["cost"] + flat_demand
            savings["flat_threshold"] = {
                "threshold_w": threshold,
                "cost": flat_total,
                "savings": flat_total - cost["total"],
            }
    carbon = None
    if carbon_at is not None:
        carbon = {
            "source": site.carbon_source,
            "pv_self_consumed_kg": carbon_pv_g / 1000.0,
            "battery_shift_kg": carbon_battery_g / 1000.0,
            "total_kg": (carbon_pv_g + carbon_battery_g) / 1000.0,
        }
    energy: dict[str, float | None] = dict(total.as_dict())
    del energy["cost"]
    energy["self_consumption_pct"] = _pct(
        total.production_kwh - total.grid_export_kwh, total.production_kwh
    )
    energy["self_sufficiency_pct"] = _pct(
        total.consumption_kwh - total.grid_import_kwh, total.consumption_kwh
    )
    chart = [
        {"start": period.local(t).isoformat(), "label": _chart_label(period, t), **s.as_dict()}
        for t, s in sorted(charts.items())
    ]
    if tariff is None:
        for row in chart:
            row["cost"] = None
    data: dict[str, Any] = {
        "edge_id": edge_id,
        "period": {
            "kind": period.kind.value,
            "first_day": period.first.isoformat(),
            "last_day": (period.last - dt.timedelta(days=1)).isoformat(),
            "start": to_rfc3339(start_s),
            "end": to_rfc3339(end_s),
            "timezone": period.timezone.key,
            "hours": period.hours,
            "quarter_hours": count,
            "coverage_pct": 100.0 * covered / count if count else 0.0,
        },
        "units": {
            "energy": "kWh",
            "power": "W",
            "carbon": "kg CO2",
            "money": None if tariff is None else tariff.currency,
        },
        "energy": energy,
        "cost": cost,
        "peaks": [_peaks(period, m, rate) for m in sorted(months.values(), key=lambda m: m.key)],
        "savings": savings,
        "carbon": carbon,
        "chart_resolution": "hour" if period.kind is PeriodKind.DAY else "day",
    }
    return EnergyReport(data, chart)


def _peaks(period: Period, month: _Month, rate: float) -> dict[str, Any]:
    top = sorted(month.quarters, key=lambda q: (-q[1], q[0]))[:TOP_PEAKS]
    return {
        "month": month.key,
        "demand_charge_per_kw_month": rate,
        "intervals": [
            {
                "start": to_rfc3339(t),
                "start_local": period.local(t).isoformat(),
                "import_w": w,
                "demand_charge": rate * w / 1000.0,
            }
            for t, w in top
        ],
    }


def _chart_key(period: Period, bucket_s: int) -> float:
    local = period.local(bucket_s)
    if period.kind is PeriodKind.DAY:
        return float(bucket_s - bucket_s % 3600)  # UTC hours are local hours in whole-hour zones
    return period.midnight_s(local.date())


def _chart_label(period: Period, t_s: float) -> str:
    local = period.local(t_s)
    return local.strftime("%H:%M") if period.kind is PeriodKind.DAY else local.strftime("%m-%d")


def _kwh(wh: float) -> float:
    return wh / 1000.0


def _pct(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole > 0 else None
