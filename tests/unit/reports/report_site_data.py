"""A synthetic Berlin site for report tests: samples every 300 s over March 2026 (with
its DST change), and the reference figures computed straight from the samples."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ems.cloud.telemetry import TelemetryRow
from ems.reports import ReportSite, SiteEntry
from ems.tariff import TariffConfig

BERLIN = ZoneInfo("Europe/Berlin")
EDGE = "site-1"
STEP_S = 300
MARCH_START_S = dt.datetime(2026, 3, 1, tzinfo=BERLIN).timestamp()
APRIL_START_S = dt.datetime(2026, 4, 1, tzinfo=BERLIN).timestamp()
PRICES = [(0, 7, 0.22), (7, 17, 0.29), (17, 21, 0.59), (21, 24, 0.29)]
EXPORT_PRICE = 0.08
DEMAND_PER_KW = 9.5
CARBON_G = 380.0
#: A 9 kW spike in the first quarter hour after 10:00 local on the DST day (UTC+2 by then).
SPIKE_S = dt.datetime(2026, 3, 29, 10, 0, tzinfo=BERLIN).timestamp()
SECOND_S = dt.datetime(2026, 3, 28, 23, 45, tzinfo=BERLIN).timestamp()


def tariff_config() -> TariffConfig:
    return TariffConfig.model_validate(
        {
            "currency": "EUR",
            "import": {
                "windows": [
                    {"from": f"{a:02d}:00", "to": f"{b:02d}:00", "price_per_kwh": p}
                    for a, b, p in PRICES
                ]
            },
            "export": {"price_per_kwh": EXPORT_PRICE},
            "demand_charge_per_kw_month": DEMAND_PER_KW,
        }
    )


def site(threshold_w: float | None = 3000.0) -> ReportSite:
    entry = SiteEntry(
        timezone="Europe/Berlin",
        tariff=tariff_config(),
        carbon={"g_per_kwh": CARBON_G},  # type: ignore[arg-type]  # validated into CarbonConfig
        baseline_threshold_w=threshold_w,
    )
    return ReportSite.build(EDGE, entry, ".")


@dataclass(frozen=True, slots=True)
class Sample:
    t_s: float
    load_w: float
    pv_w: float
    battery_w: float  # > 0 discharging

    @property
    def grid_w(self) -> float:
        return self.load_w - self.pv_w - self.battery_w


def sample(t_s: float) -> Sample:
    local = dt.datetime.fromtimestamp(t_s, BERLIN)
    hour = local.hour + local.minute / 60
    load = 600 + 400 * math.sin(math.pi * hour / 24) ** 2
    if SPIKE_S <= t_s < SPIKE_S + 900:
        load += 9000
    if SECOND_S <= t_s < SECOND_S + 900:
        load += 7000
    pv = max(0.0, 4000 * math.sin(math.pi * (hour - 7) / 12)) if 7 <= hour < 19 else 0.0
    battery = -2000.0 if 10 <= hour < 14 else 1500.0 if 17 <= hour < 21 else 0.0
    return Sample(t_s, load, pv, battery)


def samples(start_s: float = MARCH_START_S, end_s: float = APRIL_START_S) -> list[Sample]:
    return [sample(t) for t in range(int(start_s), int(end_s), STEP_S)]


def rows(items: list[Sample]) -> list[TelemetryRow]:
    out = []
    for s in items:
        for channel, value in (
            ("_sum/GridActivePower", s.grid_w),
            ("_sum/ProductionActivePower", s.pv_w),
            ("_sum/EssActivePower", s.battery_w),
            ("_sum/ConsumptionActivePower", s.load_w),
        ):
            out.append(TelemetryRow(float(s.t_s), EDGE, channel, value, None))
    return out


def import_price(t_s: float) -> float:
    hour = dt.datetime.fromtimestamp(t_s, BERLIN).hour
    return next(p for a, b, p in PRICES if a <= hour < b)
