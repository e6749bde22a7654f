"""Reports from the cloud's rollups (DESIGN 15): energy, cost, peak demand, savings, carbon.

``build_report`` reads the 15-min rollups of a site's totals for a local
period and computes the figures (:mod:`ems.reports.energy`); ``render_csv`` and
``render_pdf`` turn them into files. The cloud serves them at
``/api/reports/energy``; ``ems report`` writes the same files.

The names are imported when first used: the store (asyncpg) and the PDF
(matplotlib, ReportLab) weigh tens of MB, and every ``ems`` command, ``ems edge``
included, imports this package to register ``ems report``'s arguments.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ems.reports.build import build_report
    from ems.reports.energy import CHANNELS, EnergyReport, compute_report
    from ems.reports.period import Period, PeriodKind
    from ems.reports.render_csv import render_csv
    from ems.reports.render_pdf import render_pdf
    from ems.reports.site import CarbonConfig, ReportSite, SiteEntry, load_sites_file

#: Public name -> the module that defines it.
_WHERE = {
    "build_report": "build",
    "CHANNELS": "energy",
    "EnergyReport": "energy",
    "compute_report": "energy",
    "Period": "period",
    "PeriodKind": "period",
    "render_csv": "render_csv",
    "render_pdf": "render_pdf",
    "CarbonConfig": "site",
    "ReportSite": "site",
    "SiteEntry": "site",
    "load_sites_file": "site",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ems.reports' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ems.reports.{module}"), name)
    globals()[name] = value  # once: later lookups do not come here
    return value
