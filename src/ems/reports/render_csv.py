"""The report as CSV: one row per chart bucket (local hour or day), then a total row."""

from __future__ import annotations

import csv
import io

from ems.reports.energy import EnergyReport

__all__ = ["render_csv"]

_COLUMNS = (
    "consumption_kwh",
    "production_kwh",
    "battery_charge_kwh",
    "battery_discharge_kwh",
    "grid_import_kwh",
    "grid_export_kwh",
    "cost",
)


def render_csv(report: EnergyReport) -> str:
    """Energies in kWh; ``cost`` is the energy cost in the tariff's currency (empty
    without a tariff); the total row adds the demand charge to the cost."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", *_COLUMNS])
    for row in report.chart:
        writer.writerow([row["start"], *(_cell(row[c]) for c in _COLUMNS)])
    data = report.data
    energy, cost = data["energy"], data["cost"]
    writer.writerow(
        [
            "total",
            *(_cell(energy[c]) for c in _COLUMNS[:-1]),
            _cell(None if cost is None else cost["total"]),
        ]
    )
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)
