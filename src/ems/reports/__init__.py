"""Reports from the cloud's rollups (DESIGN 15): energy, cost, peak demand, savings, carbon.

``build_report`` reads the 15-min rollups of a site's totals for a local
period and computes the figures (:mod:`ems.reports.energy`); ``render_csv`` and
``render_pdf`` turn them into files. The cloud serves them at
``/api/reports/energy``; ``ems report`` writes the same files.
"""

from ems.reports.build import build_report
from ems.reports.energy import CHANNELS, EnergyReport, compute_report
from ems.reports.period import Period, PeriodKind
from ems.reports.render_csv import render_csv
from ems.reports.render_pdf import render_pdf
from ems.reports.site import CarbonConfig, ReportSite, SiteEntry, load_sites_file

__all__ = [
    "CHANNELS",
    "CarbonConfig",
    "EnergyReport",
    "Period",
    "PeriodKind",
    "ReportSite",
    "SiteEntry",
    "build_report",
    "compute_report",
    "load_sites_file",
    "render_csv",
    "render_pdf",
]
