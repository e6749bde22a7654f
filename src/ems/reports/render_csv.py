"""The report as CSV: one row per chart bucket (local hour or day), then a total row.

Then, each after an empty line and with its own header, the sections the
report has: ``power_quality`` (one row per channel), ``battery_health`` (one
row) and ``anomalies`` (one row per hour). A reader that wants only the energy
table stops at the first empty line.
"""

from __future__ import annotations

import csv
import io
from typing import Any

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
    _sections(writer, data)
    return out.getvalue()


def _sections(writer: Any, data: dict[str, Any]) -> None:
    pq = data.get("power_quality")
    if pq is not None:
        writer.writerow([])
        writer.writerow(["power_quality", *_PQ_COLUMNS, "low_limit", "high_limit"])
        bands = {
            "voltage": (pq["voltage"]["low_limit_v"], pq["voltage"]["high_limit_v"]),
            "frequency": (pq["frequency"]["low_limit_hz"], pq["frequency"]["high_limit_hz"]),
            "harmonics": (0.0, pq["harmonics"]["thd_limit_pct"]),
        }
        for kind, (low, high) in bands.items():
            for ch in pq[kind]["channels"]:
                writer.writerow(
                    [kind, *(_cell(ch[c]) for c in _PQ_COLUMNS), _cell(low), _cell(high)]
                )
    battery = data.get("battery_health")
    if battery is not None:
        rul = battery["remaining_useful_life"]
        writer.writerow([])
        writer.writerow(["battery_health", *_BATTERY_COLUMNS, "rul_years", "eol_soh_pct"])
        writer.writerow(
            [
                "",
                *(_cell(battery[c]) for c in _BATTERY_COLUMNS),
                _cell(rul["years"]),
                _cell(rul["eol_soh_pct"]),
            ]
        )
    anomalies = data.get("anomalies")
    if anomalies is not None:
        writer.writerow([])
        writer.writerow(["anomalies", "start", "channel", "mean_w", "expected_w", "score"])
        for a in anomalies["anomalies"]:
            writer.writerow(
                ["", a["start_local"], a["channel"], *(_cell(a[c]) for c in _ANOMALY_VALUES)]
            )


_PQ_COLUMNS = (
    "channel",
    "minutes_measured",
    "minutes_outside",
    "minutes_below",
    "minutes_above",
    "worst_low",
    "worst_high",
)
_BATTERY_COLUMNS = (
    "throughput_kwh",
    "equivalent_full_cycles",
    "soh_pct",
    "soh_source",
)
_ANOMALY_VALUES = ("mean_w", "expected_w", "score")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)
