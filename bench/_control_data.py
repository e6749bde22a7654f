"""The control benchmark's data sets: published profiles that ship inside packages.

Loads are the BDEW standard load profiles that demandlib ships (H0 household,
G0 general business, G1 weekday 08-18 business), scaled to an annual energy.
PV is the typical meteorological year (TMY3) of Greensboro, North Carolina,
that pvlib ships as test data, turned into AC power with pvlib for a fixed
south-facing array (PVWatts DC and inverter models, SAPM cell temperature).
Nothing is downloaded.

Every series is on one 15-min grid of *local standard time* of the weather
station (UTC−5, no DST): the TMY3 file is in local standard time, and the load
profiles are placed at the same local clock times, so load and sun keep their
daily shapes. The benchmark site, its tariff windows and its billing months
use that zone too.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import numpy.typing as npt
import pandas as pd

from ems.devices.battery.config import BatteryConfig

__all__ = [
    "DATASETS",
    "PRICES_CSV",
    "STEP_S",
    "TIMEZONE",
    "DataSet",
    "load_dataset",
    "load_history",
    "write_prices",
]

STEP_S = 900.0
YEAR = 2025  # not a leap year: the TMY has 8,760 hours
TIMEZONE = "Etc/GMT+5"  # POSIX sign: UTC−5, the TMY3 file's local standard time
_UTC_OFFSET_H = -5.0
_TMY3_FILE = "723170TYA.CSV"  # Greensboro, NC (36.1 °N); ships in pvlib/data
_STEPS_PER_HOUR = 4

FloatArray = npt.NDArray[np.float64]

# Time-of-use of DESIGN.md §13's example: night, day, evening peak, late evening.
HOUSEHOLD_TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "import": {
        "windows": [
            {"from": "00:00", "to": "07:00", "price_per_kwh": 0.22},
            {"from": "07:00", "to": "17:00", "price_per_kwh": 0.29},
            {"from": "17:00", "to": "21:00", "price_per_kwh": 0.59},
            {"from": "21:00", "to": "24:00", "price_per_kwh": 0.29},
        ]
    },
    "export": {"price_per_kwh": 0.08},
    "demand_charge_per_kw_month": 0.0,
}
# A business connection: day/night energy prices and a monthly demand charge.
BUSINESS_TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "import": {
        "windows": [
            {"from": "06:00", "to": "22:00", "price_per_kwh": 0.24},
            {"from": "22:00", "to": "06:00", "price_per_kwh": 0.18},
        ]
    },
    "export": {"price_per_kwh": 0.07},
    "demand_charge_per_kw_month": 12.0,
}


# A dynamic tariff on a day-ahead-like spot price (``write_prices``): import pays the
# spot price plus VAT and network fees, export earns the spot price.
PRICES_CSV = "prices.csv"
DAY_AHEAD_TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "import": {"csv": PRICES_CSV, "column": "import_per_kwh"},
    "export": {"csv": PRICES_CSV, "column": "spot_per_kwh"},
    "demand_charge_per_kw_month": 0.0,
}


def spot_price_per_kwh(local_start: dt.datetime, hours: int) -> FloatArray:
    """A deterministic day-ahead-like hourly spot price [EUR/kWh] from ``local_start``.

    Not a published series (none ships in an installed package): a formula with the
    shapes of European day-ahead prices, so the benchmark has a price that moves
    every hour. With ``s = cos(2π·(day of year − 15)/365)`` (1 in mid-January,
    −1 in mid-July), ``h`` the local hour and ``d`` the day of the year:

        0.085 + 0.020·s                               winter dearer than summer
        + 0.045·exp(−((h − 8)/1.6)²)                  morning ramp
        + 0.075·exp(−((h − 19)/2.2)²)                 evening peak
        − (0.035 − 0.020·s)·exp(−((h − 13)/2.8)²)     solar trough, deep in summer
        − 0.015 on Saturdays and Sundays
        + 0.008·sin(2.3·d + 0.7·h)                    day-to-day variation

    clipped at 0.005 (no negative prices: the LP could then waste energy by charging
    and discharging at once, which no battery does).
    """
    values = np.empty(hours)
    for k in range(hours):
        t = local_start + dt.timedelta(hours=k)
        d, h = t.timetuple().tm_yday, t.hour
        s = np.cos(2 * np.pi * (d - 15) / 365)
        price = (
            0.085
            + 0.020 * s
            + 0.045 * np.exp(-(((h - 8) / 1.6) ** 2))
            + 0.075 * np.exp(-(((h - 19) / 2.2) ** 2))
            - (0.035 - 0.020 * s) * np.exp(-(((h - 13) / 2.8) ** 2))
            - (0.015 if t.weekday() >= 5 else 0.0)
            + 0.008 * np.sin(2.3 * d + 0.7 * h)
        )
        values[k] = max(price, 0.005)
    return values


def write_prices(folder: Path, data: DataSet) -> None:
    """``prices.csv`` of the day-ahead tariff over the data set's span (and a day past it,
    for a horizon that looks beyond its end)."""
    zone = dt.timezone(dt.timedelta(hours=_UTC_OFFSET_H))
    start = dt.datetime.fromtimestamp(data.start_s, zone)
    hours = round(data.steps * STEP_S / 3600) + 24
    spot = spot_price_per_kwh(start, hours)
    retail = spot * 1.19 + 0.16  # VAT and network fees on a German-style dynamic tariff
    stamps = pd.to_datetime(data.start_s + 3600.0 * np.arange(hours), unit="s", utc=True)
    frame = pd.DataFrame(
        {
            "timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "import_per_kwh": retail.round(5),
            "spot_per_kwh": spot.round(5),
        }
    )
    frame.to_csv(folder / PRICES_CSV, index=False)


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    description: str
    profile: str  # demandlib's column: h0_dyn, g0, g1, ...
    annual_kwh: float
    pv_kwp: float
    battery: BatteryConfig
    tariff: dict[str, Any] = field(default_factory=dict)


DATASETS: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec(
            "household_h0",
            "BDEW H0 (dynamic) household, 4,500 kWh/a; 6 kWp PV; 10 kWh / 5 kW battery; ToU tariff",
            "h0_dyn",
            4500.0,
            6.0,
            BatteryConfig(),  # the simulator's default battery
            HOUSEHOLD_TARIFF,
        ),
        Spec(
            "household_h0_dayahead",
            "the same household on a dynamic tariff: a day-ahead-like hourly spot price "
            "(+ VAT and fees) for import, the spot price for export",
            "h0_dyn",
            4500.0,
            6.0,
            BatteryConfig(),
            DAY_AHEAD_TARIFF,
        ),
        Spec(
            "business_g0",
            "BDEW G0 general business, 60,000 kWh/a; 30 kWp PV; 40 kWh / 20 kW battery; "
            "demand charge",
            "g0",
            60_000.0,
            30.0,
            BatteryConfig(
                capacity_wh=40_000, max_charge_power_w=20_000, max_discharge_power_w=20_000
            ),
            BUSINESS_TARIFF,
        ),
        Spec(
            "business_g1",
            "BDEW G1 weekday 08-18 business, 40,000 kWh/a; 30 kWp PV; 30 kWh / 15 kW battery; "
            "demand charge",
            "g1",
            40_000.0,
            30.0,
            BatteryConfig(
                capacity_wh=30_000, max_charge_power_w=15_000, max_discharge_power_w=15_000
            ),
            BUSINESS_TARIFF,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class DataSet:
    spec: Spec
    start_s: float  # UTC epoch s of the first step
    load_w: FloatArray  # mean over each 15-min step
    pv_w: FloatArray

    @property
    def steps(self) -> int:
        return len(self.load_w)

    def times_s(self) -> FloatArray:
        return self.start_s + STEP_S * np.arange(self.steps, dtype=np.float64)


def year_start_s() -> float:
    local = dt.datetime(YEAR, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=_UTC_OFFSET_H)))
    return local.timestamp()


def load_dataset(name: str, first_day: int, days: int) -> DataSet:
    """``days`` days of data set ``name`` from day ``first_day`` (0 = 1 January) of the year."""
    spec = DATASETS[name]
    first, count = first_day * 24 * _STEPS_PER_HOUR, days * 24 * _STEPS_PER_HOUR
    load = _load_profile_w(spec.profile, spec.annual_kwh)[first : first + count]
    pv = _pv_power_w(spec.pv_kwp)[first : first + count]
    if len(load) < count:
        raise ValueError(f"the year has {len(_pv_power_w(spec.pv_kwp)) // 96} days")
    return DataSet(spec, year_start_s() + first * STEP_S, load, pv)


def load_history(data: DataSet, days: int) -> DataSet | None:
    """Up to ``days`` days of the same data set before ``data`` (what a site running
    for weeks has measured when the span starts), fewer at the start of the year;
    for a span from 1 January (``--year``), the year before's last ``days`` days
    (:func:`_year_before`)."""
    first_day = round((data.start_s - year_start_s()) / (STEP_S * 24 * _STEPS_PER_HOUR))
    if first_day == 0:
        return _year_before(data.spec, days) if days > 0 else None
    before = min(days, first_day)
    return load_dataset(data.spec.name, first_day - before, before) if before > 0 else None


def _year_before(spec: Spec, days: int) -> DataSet:
    """The last ``days`` days of the year before ``YEAR``: the BDEW profile of that year
    (its own weekdays and holidays, scaled to the same annual energy) and the TMY's last
    days (the TMY is a typical year: its December stands for any December's)."""
    count = days * 24 * _STEPS_PER_HOUR
    load = _load_profile_w(spec.profile, spec.annual_kwh, YEAR - 1)[-count:]
    pv = _pv_power_w(spec.pv_kwp)[-count:]
    return DataSet(spec, year_start_s() - count * STEP_S, load, pv)


_LOAD_CACHE: dict[tuple[str, int], FloatArray] = {}


def _load_profile_w(profile: str, annual_kwh: float, year: int = YEAR) -> FloatArray:
    """A year's BDEW profile as mean W per quarter hour, summing to ``annual_kwh``."""
    if (profile, year) not in _LOAD_CACHE:
        from demandlib import bdew

        # demandlib 0.2.2 calls warnings.simplefilter("error") halfway through building
        # the profiles, after which pandas 3's deprecation warnings about its own calls
        # become errors: silence warnings for that call only, and keep its filter out.
        with warnings.catch_warnings(), mock.patch.object(warnings, "simplefilter"):
            warnings.filterwarnings("ignore")
            shares = bdew.ElecSlp(year=year).get_profiles(profile)[profile]
        _LOAD_CACHE[profile, year] = shares.to_numpy(dtype=np.float64)
    # shares of the annual energy per quarter hour → kWh → mean W over 0.25 h
    return _LOAD_CACHE[profile, year] * annual_kwh * 1000.0 * _STEPS_PER_HOUR


_PV_PER_KWP: list[FloatArray] = []


def _pv_power_w(kwp: float) -> FloatArray:
    if not _PV_PER_KWP:
        _PV_PER_KWP.append(_pv_per_kwp_w())
    return _PV_PER_KWP[0] * kwp


def _pv_per_kwp_w() -> FloatArray:
    """AC power of 1 kWp facing south at 25° tilt, per quarter hour of the year (W)."""
    import pvlib

    path = Path(pvlib.__file__).parent / "data" / _TMY3_FILE
    weather, meta = pvlib.iotools.read_tmy3(path, coerce_year=YEAR, map_variables=True)
    # A TMY3 row is the hour *ending* at its time stamp: the sun of its middle.
    mid = weather.index - pd.Timedelta(minutes=30)
    sun = pvlib.solarposition.get_solarposition(
        mid, meta["latitude"], meta["longitude"], altitude=meta["altitude"]
    )
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=25.0,
        surface_azimuth=180.0,
        solar_zenith=sun["apparent_zenith"].to_numpy(),
        solar_azimuth=sun["azimuth"].to_numpy(),
        dni=weather["dni"].to_numpy(),
        ghi=weather["ghi"].to_numpy(),
        dhi=weather["dhi"].to_numpy(),
        dni_extra=pvlib.irradiance.get_extra_radiation(mid).to_numpy(),
        model="haydavies",
    )
    poa_w_m2 = np.nan_to_num(np.asarray(poa["poa_global"], dtype=np.float64)).clip(min=0.0)
    cell_c = pvlib.temperature.sapm_cell(
        poa_w_m2,
        weather["temp_air"].to_numpy(),
        weather["wind_speed"].to_numpy(),
        **pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"],
    )
    dc_w = pvlib.pvsystem.pvwatts_dc(poa_w_m2, cell_c, 1000.0, -0.004)
    ac_w = np.nan_to_num(np.asarray(pvlib.inverter.pvwatts(dc_w, 1000.0 / 0.96), dtype=np.float64))
    # Hourly means, placed at each hour's middle, interpolated onto the quarter hours'
    # middles (hours from local midnight of 1 January).
    hours_mid = ((mid - mid[0].normalize()) / pd.Timedelta(hours=1)).to_numpy(dtype=np.float64)
    order = np.argsort(hours_mid)
    quarter_mid = (np.arange(8760 * _STEPS_PER_HOUR) + 0.5) / _STEPS_PER_HOUR
    power = np.interp(quarter_mid, hours_mid[order], ac_w[order].clip(min=0.0), left=0.0, right=0.0)
    return np.asarray(power, dtype=np.float64)
