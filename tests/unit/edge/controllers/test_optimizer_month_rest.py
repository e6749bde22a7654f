"""The month's days past the horizon: the peak they will bill, from the site's recent days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from test_optimizer import DAY0, DEVICES, Loop
from test_optimizer_peak_cap import tariff

from ems.edge.controllers.base import ControllerSite
from ems.edge.controllers.optimizer import Optimizer, OptimizerParams
from ems.edge.controllers.optimizer.period_peak import (
    MonthRest,
    day_peak_w,
    month_end_s,
    peak_levels,
)
from ems.forecast import Series
from ems.optimize import BatteryModel

DAY = 96
UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def battery(capacity_wh: float = 2000.0, soc_pct: float = 10.0) -> BatteryModel:
    return BatteryModel(
        capacity_wh=capacity_wh,
        max_charge_power_w=5000.0,
        max_discharge_power_w=5000.0,
        efficiency=1.0,
        min_soc_pct=0.0,
        max_soc_pct=100.0,
        initial_soc_pct=soc_pct,
    )


def close(levels: list[tuple[float, float]] | None, expected: list[tuple[float, float]]) -> None:
    assert levels is not None
    np.testing.assert_allclose(np.array(levels), np.array(expected), rtol=1e-6, atol=1e-6)


def test_the_days_to_come_bill_the_highest_of_their_peaks() -> None:
    # Four recent days: 0, 1, 1 and 2 kW. One day left: each level as often as a day is.
    days = np.array([0.0, 1000.0, 1000.0, 2000.0])
    close(peak_levels(days, 1), [(0.0, 0.25), (1000.0, 0.5), (2000.0, 0.25)])
    # Two days: the higher of two; both at most 1 kW with probability 0.75² = 0.5625.
    close(peak_levels(days, 2), [(0.0, 0.0625), (1000.0, 0.5), (2000.0, 0.4375)])
    assert peak_levels(np.array([1000.0]), 0.0) is None, "the month ends within the horizon"
    assert peak_levels(np.zeros(0), 3.0) is None, "no day measured"


def test_a_days_peak_is_what_the_battery_could_hold_from_its_charge_at_the_start() -> None:
    # 500 W, and 3 kW from 18:00 to 20:00: 17 kWh. Half of 10 kWh covers the evening above
    # 500 W; half of 20 kWh flattens the day to (17 − 10) kWh / 24 h; full, it holds 0.
    net = np.where((np.arange(DAY) >= 72) & (np.arange(DAY) < 80), 3000.0, 500.0)
    assert day_peak_w(net, 900.0, battery(10_000.0, 50.0)) == pytest.approx(500.0, abs=1e-3)
    assert day_peak_w(net, 900.0, battery(20_000.0, 50.0)) == pytest.approx(7000 / 24, abs=1e-3)
    assert day_peak_w(net, 900.0, battery(20_000.0, 100.0)) == pytest.approx(0.0, abs=1e-3)


def test_the_month_ends_at_local_midnight() -> None:
    mid_december = dt.datetime(2026, 12, 15, 12, tzinfo=BERLIN).timestamp()
    assert month_end_s(mid_december, BERLIN) == dt.datetime(2027, 1, 1, tzinfo=BERLIN).timestamp()
    last_evening = dt.datetime(2026, 3, 31, 23, 30, tzinfo=BERLIN).timestamp()
    assert month_end_s(last_evening, BERLIN) == dt.datetime(2026, 4, 1, tzinfo=BERLIN).timestamp()


def test_levels_come_from_the_days_measured_and_only_while_the_month_goes_on() -> None:
    # Ten days from 1 June: an evening hour of 3 kW on even days, 1.5 kW on odd ones, and
    # nothing else. A 2 kWh battery, half full at midnight, holds an even day at 1 kW
    # (its 2 kWh and 1 kW imported), an odd one at 500/19 W: imported through the 18 h
    # before the hour and during it, 19 h · p tops up the 0.5 kWh it lacks.
    start = dt.datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    peak = np.where(np.arange(10) % 2 == 0, 3000.0, 1500.0)
    net = np.zeros((10, DAY))
    net[:, 72:76] = peak[:, None]
    load = Series(start, 900.0, net.ravel())
    now = start + 10 * 86_400.0  # 11 June, 00:00
    rest = MonthRest(4, UTC)
    levels = rest.levels(load, None, now, now + 36 * 3600.0, battery())
    # the last four days: two at 1 kW, two at 500/19 W; 18.5 days left after the horizon
    days_left = 20.0 - 1.5
    close(levels, [(500 / 19, 0.5**days_left), (1000.0, 1.0 - 0.5**days_left)])
    # A horizon past the month's end: the month is billed within it.
    late = dt.datetime(2026, 6, 29, tzinfo=UTC).timestamp()
    assert rest.levels(load, None, late, late + 36 * 3600.0, battery()) is None
    # A day not measured whole is left out, not counted as a day without a peak.
    gappy = Series(start, 900.0, np.where(np.arange(10 * DAY) >= 9 * DAY, np.nan, net.ravel()))
    got = MonthRest(4, UTC).levels(gappy, None, now, now + 36 * 3600.0, battery())
    close(got, [(500 / 19, (1 / 3) ** days_left), (1000.0, 1.0 - (1 / 3) ** days_left)])


def _history_csv(path: Path, days: int) -> Path:
    """``days`` days before DAY0 06:00 of 500 W, and 3 kW from 18:00 to 20:00 UTC."""
    rows = ["timestamp,load_w,pv_w"]
    first_s = DAY0 + 6 * 3600 - days * 86_400.0
    for k in range(days * DAY):
        t_s = first_s + k * 900.0
        hour = (t_s % 86_400.0) / 3600.0
        stamp = dt.datetime.fromtimestamp(t_s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{stamp},{3000.0 if 18.0 <= hour < 20.0 else 500.0},0")
    path.write_text("\n".join(rows) + "\n")
    return path


def _night_import_w(tmp_path: Path, month_rest_days: int) -> float:
    """The import the first plan (19 June, 06:00, SOC 90 % of 10 kWh) holds before the
    evening, with the forecast persistence of the history's days."""
    params = OptimizerParams(
        capacity_wh=10_000,
        efficiency=1.0,
        forecast="naive",
        history_csv=str(_history_csv(tmp_path / "history.csv", 14)),
        # energy kept is worth its price: only the demand charge makes spending it pay
        degradation_cost_per_kwh=0.01,
        terminal_value_per_kwh=0.2,
        max_charge_power_w=5000.0,
        max_discharge_power_w=5000.0,
        month_rest_days=month_rest_days,
    )
    site = ControllerSite(timezone="UTC", tariff=tariff(12.0), inline_work=True)
    ctrl = Optimizer("opt", 20, params, DEVICES, site)
    Loop(ctrl, soc=90.0).step(500.0)
    assert ctrl.plan is not None
    start_s, plan = ctrl.plan
    before_evening = slice(4, round((DAY0 + 18 * 3600 - start_s) / 900.0))
    return float(plan.grid_w[before_evening].mean())


def test_the_plan_does_not_shave_below_what_the_rest_of_the_month_will_bill(
    tmp_path: Path,
) -> None:
    # Every recent day (17 kWh) the battery, half full, could hold at the 500 W base at
    # best, so the month's days to come will bill 500 W: a plan starting 90 % full
    # imports the day's 500 W and keeps the battery for the evening. Billing the
    # horizon's peak whole, it spends the extra 4 kWh to shave the day below 500 W
    # (to (23 − 9) kWh / 36 h), a saving the month's next evenings undo.
    assert _night_import_w(tmp_path, 14) == pytest.approx(500.0, abs=1.0)
    assert _night_import_w(tmp_path, 0) == pytest.approx(14_000 / 36, abs=1.0)
