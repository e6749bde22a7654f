"""Read a period's rollups from a store and compute its report."""

from __future__ import annotations

from ems.cloud.telemetry.rollup import RollupReader
from ems.reports.energy import CHANNELS, QUARTER_S, EnergyReport, compute_report
from ems.reports.period import Period
from ems.reports.site import ReportSite

__all__ = ["build_report"]


async def build_report(
    store: RollupReader, edge_id: str, period: Period, site: ReportSite
) -> EnergyReport:
    """One query over the 15-min rollups (a month is ~3,000 rows per channel)."""
    quarters = await store.rollups(edge_id, CHANNELS, QUARTER_S, period.start_s, period.end_s)
    return compute_report(edge_id, period, site, quarters)
