"""Prices at an instant and monthly bills, across DST days and month ends of local time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ems.errors import ConfigError
from ems.tariff import CostAccumulator, Tariff, TariffConfig

BERLIN = ZoneInfo("Europe/Berlin")
TOU = [  # DESIGN.md §13's example
    {"from": "00:00", "to": "07:00", "price_per_kwh": 0.22},
    {"from": "07:00", "to": "17:00", "price_per_kwh": 0.29},
    {"from": "17:00", "to": "21:00", "price_per_kwh": 0.59},
    {"from": "21:00", "to": "24:00", "price_per_kwh": 0.29},
]


def tariff(config_dir: Path | str = ".", **fields: Any) -> Tariff:
    document = {"currency": "EUR", "import": {"windows": TOU}, **fields}
    return Tariff.from_config(TariffConfig.model_validate(document), "Europe/Berlin", config_dir)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, s: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, s, tzinfo=BERLIN).timestamp()


def run_constant(acc: CostAccumulator, start_s: float, end_s: float, grid_w: float) -> None:
    """``grid_w`` from start to end in 60 s cycles, as ``ems simulate`` adds them."""
    t = start_s
    while t < end_s:
        acc.add(t, min(60.0, end_s - t), grid_w)
        t += 60.0


def test_window_prices_follow_local_wall_clock_time() -> None:
    prices = tariff().import_price_per_kwh
    # 2026-03-29 is the spring-forward day: 07:00 local is 05:00 UTC (CEST).
    assert prices(local(2026, 3, 29, 6, 59, 59)) == 0.22
    assert prices(local(2026, 3, 29, 7, 0)) == 0.29
    assert prices(dt.datetime(2026, 3, 29, 5, 0, tzinfo=dt.UTC).timestamp()) == 0.29
    assert prices(local(2026, 3, 29, 20, 59)) == 0.59
    assert prices(local(2026, 3, 29, 23, 59)) == 0.29
    assert tariff().export_price_per_kwh(local(2026, 3, 29, 12)) == 0.0


@pytest.mark.parametrize(
    ("day", "hours", "night_hours"),
    [((2026, 3, 29), 23, 6), ((2026, 10, 25), 25, 8), ((2026, 6, 21), 24, 7)],
)
def test_a_dst_day_costs_its_real_hours_at_their_wall_clock_prices(
    day: tuple[int, int, int], hours: int, night_hours: int
) -> None:
    acc = CostAccumulator(tariff(), BERLIN)
    start = local(*day)
    end = dt.datetime.combine(
        dt.date(*day) + dt.timedelta(days=1), dt.time(), tzinfo=BERLIN
    ).timestamp()
    assert end - start == hours * 3600.0
    run_constant(acc, start, end, 1000.0)
    (bill,) = acc.months()
    assert bill.import_kwh == pytest.approx(hours)
    expected = 0.22 * night_hours + 0.29 * 10 + 0.59 * 4 + 0.29 * 3
    assert bill.import_cost == pytest.approx(expected)
    assert bill.cost == pytest.approx(expected)
    assert bill.peak_import_15min_w == pytest.approx(1000.0)


def test_months_are_local_calendar_months_with_their_own_demand_charge() -> None:
    acc = CostAccumulator(tariff(demand_charge_per_kw_month=10.0), BERLIN)
    # March 31, 23:00 to April 1, 01:00 local is all March in UTC (21:00Z to 23:00Z).
    run_constant(acc, local(2026, 3, 31, 23), local(2026, 4, 1, 0), 3000.0)
    run_constant(acc, local(2026, 4, 1, 0), local(2026, 4, 1, 1), 2000.0)
    march, april = acc.months()
    assert (march.month, april.month) == ("2026-03", "2026-04")
    assert march.import_kwh == pytest.approx(3.0) and april.import_kwh == pytest.approx(2.0)
    assert march.peak_import_15min_w == pytest.approx(3000.0)
    assert april.peak_import_15min_w == pytest.approx(2000.0)
    assert march.demand_charge == pytest.approx(30.0) and april.demand_charge == pytest.approx(20.0)
    assert april.cost == pytest.approx(2.0 * 0.22 + 20.0)


def test_the_peak_is_the_highest_quarter_hour_mean_not_the_highest_instant() -> None:
    acc = CostAccumulator(tariff(demand_charge_per_kw_month=12.0), BERLIN)
    q = local(2026, 6, 1, 12)
    run_constant(acc, q, q + 300, 4000.0)  # 4 kW for 5 min, then nothing: mean 1333 W
    run_constant(acc, q + 900, q + 1800, 1000.0)
    acc.add(q + 1800 + 450, 900.0, 2000.0)  # straddles two quarter hours: 1000 W mean in each
    acc.add(q + 3600, 60.0, -5000.0)  # export never counts towards the peak
    (bill,) = acc.months()
    assert bill.peak_import_15min_w == pytest.approx(4000.0 / 3)
    assert bill.demand_charge == pytest.approx(12.0 * 4.0 / 3)
    assert bill.export_kwh == pytest.approx(5000.0 / 60 / 1000)


def test_export_earns_the_export_price_and_lowers_the_cost() -> None:
    acc = CostAccumulator(tariff(export={"price_per_kwh": 0.08}), BERLIN)
    run_constant(acc, local(2026, 6, 1, 12), local(2026, 6, 1, 13), -2000.0)
    (bill,) = acc.months()
    assert bill.export_revenue == pytest.approx(0.16)
    assert bill.cost == pytest.approx(-0.16)


def test_without_a_tariff_energy_and_peaks_are_still_counted() -> None:
    acc = CostAccumulator(None, BERLIN)
    run_constant(acc, local(2026, 6, 1, 12), local(2026, 6, 1, 13), 1500.0)
    (bill,) = acc.months()
    assert not acc.has_tariff
    assert bill.import_kwh == pytest.approx(1.5) and bill.peak_import_15min_w == 1500.0
    assert bill.cost == 0.0


def test_a_price_csv_holds_each_row_until_the_next(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_text(
        "timestamp,eur_per_kwh\n2026-06-01T10:00:00Z,0.10\n2026-06-01T11:00:00Z,-0.02\n", "utf-8"
    )
    prices = tariff(tmp_path, **{"import": {"csv": "prices.csv", "column": "eur_per_kwh"}})
    at = dt.datetime(2026, 6, 1, 10, 59, tzinfo=dt.UTC).timestamp()
    assert prices.import_price_per_kwh(at) == 0.10
    assert prices.import_price_per_kwh(at + 60) == -0.02
    assert prices.import_price_per_kwh(at + 86_400) == -0.02, "the last price holds"
    with pytest.raises(ConfigError, match=r"^tariff\.import\.csv: .*prices.csv line 1: no column"):
        tariff(tmp_path, **{"import": {"csv": "prices.csv", "column": "price"}})


def test_bills_can_be_read_mid_quarter_hour_and_accumulating_goes_on() -> None:
    acc = CostAccumulator(tariff(demand_charge_per_kw_month=10.0), BERLIN)
    q = local(2026, 6, 1, 12)
    run_constant(acc, q, q + 450, 2000.0)
    assert acc.months()[0].peak_import_15min_w == pytest.approx(1000.0), "half a quarter so far"
    run_constant(acc, q + 450, q + 900, 2000.0)
    (bill,) = acc.months()
    assert bill.peak_import_15min_w == pytest.approx(2000.0)
    assert bill.demand_charge == pytest.approx(20.0)
