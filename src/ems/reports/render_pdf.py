"""The report as a PDF: headline tables laid out by ReportLab, charts drawn by matplotlib.

Page 1 states the site, the period, its time zone and the units, then the
energy, cost, savings and carbon figures and the energy chart; page 2 the peak
demand intervals, then power quality, battery health and anomalies (each only
when the report has it). Text is real text (not pictures), so it can be searched and
extracted.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

# reportlab ships no type hints.
matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import cm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Image,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ems.reports.energy import EnergyReport

__all__ = ["render_pdf"]

_STYLES = getSampleStyleSheet()
_MAX_ANOMALY_ROWS = 20
_TABLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 9),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.whitesmoke]),
    ]
)


def render_pdf(report: EnergyReport, site_name: str | None = None) -> bytes:
    data = report.data
    period = data["period"]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Energy report {data['edge_id']} {period['first_day']}",
        leftMargin=1.8 * cm,
        rightMargin=1.8 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.5 * cm,
    )
    story: list[Any] = [
        Paragraph(f"Energy report: {site_name or data['edge_id']}", _STYLES["Title"]),
        Paragraph(
            f"Site <b>{data['edge_id']}</b>, {period['kind']} from {period['first_day']} "
            f"to {period['last_day']} ({period['hours']:g} h), time zone "
            f"<b>{period['timezone']}</b>. Energy in kWh, power in W, "
            f"money in {data['units']['money'] or '(no tariff)'}, carbon in kg CO2. "
            f"Data coverage {period['coverage_pct']:.1f} % of the quarter hours.",
            _STYLES["Normal"],
        ),
        Spacer(1, 0.4 * cm),
        _table(["Energy", "kWh"], _energy_rows(data["energy"])),
        Spacer(1, 0.3 * cm),
    ]
    story += _money_tables(data)
    story += [
        Spacer(1, 0.3 * cm),
        Image(io.BytesIO(_chart_png(report)), width=17 * cm, height=7.5 * cm),
        PageBreak(),
        Paragraph("Peak demand: top five 15-min mean imports", _STYLES["Heading2"]),
    ]
    for month in data["peaks"]:
        rows = [
            [
                f"{p['start_local'][:10]} {p['start_local'][11:16]} (UTC{p['start_local'][19:]})",
                f"{p['import_w']:.0f}",
                _money(p["demand_charge"]),
            ]
            for p in month["intervals"]
        ]
        story += [
            Paragraph(
                f"{month['month']} (demand charge {month['demand_charge_per_kw_month']:g} per kW)",
                _STYLES["Heading4"],
            ),
            _table(["Quarter hour (local)", "Import W", "Demand charge"], rows),
        ]
    story += _quality_tables(data)
    doc.build(story)
    return buffer.getvalue()


def _energy_rows(energy: dict[str, Any]) -> list[list[str]]:
    names = [
        ("Consumption", "consumption_kwh"),
        ("Production", "production_kwh"),
        ("Battery charge", "battery_charge_kwh"),
        ("Battery discharge", "battery_discharge_kwh"),
        ("Grid import", "grid_import_kwh"),
        ("Grid export", "grid_export_kwh"),
    ]
    rows = [[label, f"{energy[key]:.2f}"] for label, key in names]
    for label, key in (
        ("Self-consumption %", "self_consumption_pct"),
        ("Self-sufficiency %", "self_sufficiency_pct"),
    ):
        value = energy[key]
        rows.append([label, "-" if value is None else f"{value:.1f}"])
    return rows


def _money_tables(data: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    cost = data["cost"]
    if cost is not None:
        out.append(
            _table(
                [f"Cost ({cost['currency']})", ""],
                [
                    ["Energy (import - export)", _money(cost["energy"])],
                    ["Demand charge", _money(cost["demand_charge"])],
                    ["Total", _money(cost["total"])],
                ],
            )
        )
        savings = data["savings"]
        rows = [
            [
                "Without battery",
                _money(savings["no_battery"]["cost"]),
                _money(savings["no_battery"]["savings"]),
            ]
        ]
        flat = savings["flat_threshold"]
        if flat is not None:
            rows.append(
                [
                    f"Flat threshold {flat['threshold_w']:.0f} W",
                    _money(flat["cost"]),
                    _money(flat["savings"]),
                ]
            )
        out += [
            Spacer(1, 0.3 * cm),
            _table(["Estimated savings against", "Baseline cost", "Savings"], rows),
        ]
    carbon = data["carbon"]
    if carbon is not None:
        out += [
            Spacer(1, 0.3 * cm),
            _table(
                [f"Carbon avoided ({carbon['source']})", "kg CO2"],
                [
                    ["Self-consumed PV", f"{carbon['pv_self_consumed_kg']:.1f}"],
                    ["Battery shift", f"{carbon['battery_shift_kg']:.1f}"],
                    ["Total", f"{carbon['total_kg']:.1f}"],
                ],
            ),
        ]
    return out


def _quality_tables(data: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    pq = data.get("power_quality")
    if pq is not None:
        rows = []
        for kind, unit in (("voltage", "V"), ("frequency", "Hz"), ("harmonics", "%")):
            for ch in pq[kind]["channels"]:
                rows.append(
                    [
                        ch["channel"],
                        str(ch["minutes_measured"]),
                        str(ch["minutes_outside"]),
                        _opt(ch["worst_low"], unit),
                        _opt(ch["worst_high"], unit),
                    ]
                )
        volts = pq["voltage"]
        out += [
            Paragraph("Power quality (EN 50160)", _STYLES["Heading2"]),
            Paragraph(
                f"Limits: {volts['low_limit_v']:.1f}-{volts['high_limit_v']:.1f} V "
                f"(nominal {volts['nominal_v']:g} V ±10 %), "
                f"{pq['frequency']['low_limit_hz']:g}-{pq['frequency']['high_limit_hz']:g} Hz. "
                "A minute counts as outside when its mean is outside; worst values are "
                f"single samples. {pq['harmonics']['note'] or ''}",
                _STYLES["Normal"],
            ),
            _table(["Channel", "Minutes measured", "Minutes outside", "Lowest", "Highest"], rows),
        ]
    battery = data.get("battery_health")
    if battery is not None:
        rul = battery["remaining_useful_life"]
        out += [
            Paragraph("Battery health", _STYLES["Heading2"]),
            _table(
                ["Battery", ""],
                [
                    ["Throughput kWh", f"{battery['throughput_kwh']:.1f}"],
                    ["Equivalent full cycles", f"{battery['equivalent_full_cycles']:.2f}"],
                    ["SOH %", _opt(battery["soh_pct"], "")],
                    ["SOH source", battery["soh_source"]],
                    [
                        f"Remaining life to {rul['eol_soh_pct']:g} % SOH (years)",
                        _opt(rul["years"], ""),
                    ],
                ],
            ),
            Paragraph(
                f"Assumes {rul['rated_cycles_to_eol']:g} cycles to end of life; "
                f"{rul['assumptions']}.",
                _STYLES["Normal"],
            ),
        ]
    anomalies = data.get("anomalies")
    if anomalies is not None:
        listed = anomalies["anomalies"]
        out.append(Paragraph(f"Anomalies ({len(listed)})", _STYLES["Heading2"]))
        if listed:
            rows = [
                [
                    a["start_local"][:16].replace("T", " "),
                    a["channel"],
                    f"{a['mean_w']:.0f}",
                    f"{a['expected_w']:.0f}",
                ]
                for a in listed[:_MAX_ANOMALY_ROWS]
            ]
            out.append(_table(["Hour (local)", "Channel", "Mean W", "Usual W"], rows))
        else:
            skipped = "; ".join(f"{k}: {v}" for k, v in anomalies["skipped"].items())
            out.append(Paragraph("None found. " + skipped, _STYLES["Normal"]))
    return out


def _opt(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.2f}{(' ' + unit) if unit else ''}"


def _table(header: list[str], rows: list[list[str]]) -> Table:
    table = Table([header, *rows], hAlign="LEFT")
    table.setStyle(_TABLE)
    return table


def _money(value: float) -> str:
    return f"{value:.2f}"


def _chart_png(report: EnergyReport) -> bytes:
    rows = report.chart
    labels = [r["label"] for r in rows]
    x = list(range(len(rows)))
    fig, ax = plt.subplots(figsize=(9, 4), dpi=110)
    try:
        width = 0.4
        ax.bar(
            [i - width / 2 for i in x],
            [r["consumption_kwh"] for r in rows],
            width,
            label="consumption",
            color="#555555",
        )
        ax.bar(
            [i + width / 2 for i in x],
            [r["production_kwh"] for r in rows],
            width,
            label="production",
            color="#f2b705",
        )
        ax.plot(
            x,
            [r["grid_import_kwh"] for r in rows],
            "o-",
            ms=3,
            label="grid import",
            color="#c0392b",
        )
        ax.plot(
            x,
            [-r["grid_export_kwh"] for r in rows],
            "o-",
            ms=3,
            label="grid export (-)",
            color="#27ae60",
        )
        ax.plot(
            x,
            [r["battery_discharge_kwh"] - r["battery_charge_kwh"] for r in rows],
            "s-",
            ms=3,
            label="battery net discharge",
            color="#2980b9",
        )
        ax.axhline(0, color="black", lw=0.5)
        step = max(1, -(-len(labels) // 12))  # at most 12 labels: they must not overlap
        ax.set_xticks(x[::step], labels[::step], fontsize=7)
        ax.set_ylabel("kWh per " + ("hour" if report.data["chart_resolution"] == "hour" else "day"))
        ax.set_title(
            f"Energy per {report.data['chart_resolution']} ({report.data['period']['timezone']})",
            fontsize=9,
        )
        ax.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.1))
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)
