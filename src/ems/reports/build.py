"""Read a period's rollups (and, where the store has them, samples) and compute its report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ems.cloud.telemetry.model import HistoryPoint, LatestValue
from ems.cloud.telemetry.rollup import RollupReader
from ems.reports.anomalies import ANOMALY_CHANNELS, HOUR_S, find_anomalies
from ems.reports.battery_health import compute_battery_health
from ems.reports.energy import BATTERY, CHANNELS, QUARTER_S, EnergyReport, compute_report
from ems.reports.period import Period
from ems.reports.power_quality import MINUTE_S, compute_power_quality
from ems.reports.site import ReportSite

__all__ = ["ANOMALY_HISTORY_DAYS", "SampleReader", "build_report"]

#: Days of hourly rollups before the period that teach the anomaly model the site's usual week.
ANOMALY_HISTORY_DAYS = 28


@runtime_checkable
class SampleReader(Protocol):
    """The part of a telemetry store that power quality and battery health read."""

    async def history(
        self,
        edge_id: str,
        channels: Sequence[str],
        start_s: float,
        end_s: float,
        max_points: int = 500,
    ) -> dict[str, list[HistoryPoint]]: ...

    async def latest(
        self, edge_id: str, channels: Sequence[str] | None = None
    ) -> dict[str, LatestValue]: ...


async def build_report(
    store: RollupReader, edge_id: str, period: Period, site: ReportSite
) -> EnergyReport:
    """One query over the 15-min rollups (a month is ~3,000 rows per channel), one over the
    hourly rollups for anomalies, and, when ``store`` also reads samples, one-minute
    buckets of the power-quality channels and 15-min buckets of the battery's SOC."""
    quarters = await store.rollups(edge_id, CHANNELS, QUARTER_S, period.start_s, period.end_s)
    report = compute_report(edge_id, period, site, quarters)
    history_start_s = period.start_s - ANOMALY_HISTORY_DAYS * 86_400
    hours = await store.rollups(edge_id, ANOMALY_CHANNELS, HOUR_S, history_start_s, period.end_s)
    report.data["anomalies"] = find_anomalies(hours, period.timezone, period.start_s, period.end_s)
    report.data["power_quality"] = None
    report.data["battery_health"] = None
    if not isinstance(store, SampleReader):
        return report
    minutes = _buckets(period, MINUTE_S)
    if site.power_quality.channels:
        pq = await store.history(
            edge_id, site.power_quality.channels, period.start_s, period.end_s, minutes
        )
        report.data["power_quality"] = compute_power_quality(site.power_quality, pq)
    battery = site.battery
    if battery is not None:
        soc = await store.history(
            edge_id,
            [battery.soc_channel],
            period.start_s,
            period.end_s,
            _buckets(period, QUARTER_S),
        )
        latest = await store.latest(edge_id, [battery.soh_channel] if battery.soh_channel else [])
        report.data["battery_health"] = compute_battery_health(
            battery,
            quarters.get(BATTERY, []),
            soc.get(battery.soc_channel, []),
            latest,
            period.hours / 24.0,
        )
    return report


def _buckets(period: Period, width_s: int) -> int:
    """``max_points`` that makes the store's buckets exactly ``width_s`` wide (periods start
    on whole local hours, so their bounds are multiples of the width)."""
    return max(2, math.ceil((period.end_s - period.start_s) / width_s))
