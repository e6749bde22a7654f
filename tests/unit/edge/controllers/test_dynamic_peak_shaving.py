"""Dynamic peak shaving as cycle tables on a virtual clock: the planned threshold, the
month's peak as its floor, the month boundary in local time, stale inputs, bad params."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from site_loop import SET, B, battery

from ems.edge.config import parse_edge_config
from ems.edge.controllers.base import ControllerSite
from ems.edge.controllers.dynamic_peak_shaving import (
    DynamicPeakShaving,
    DynamicPeakShavingParams,
)
from ems.edge.controllers.dynamic_peak_shaving.threshold import BatteryNow, lowest_threshold
from ems.edge.testing import CycleHarness, devices_of
from ems.errors import ConfigError

DEVICES = devices_of({B: "battery", "grid": "grid_meter"})
ZONE = "Europe/Berlin"
# 2026-01-31 00:00 in Berlin (UTC+1): a day of January, then February begins.
JAN_31_LOCAL_S = datetime(2026, 1, 30, 23, 0, tzinfo=UTC).timestamp()
PERIOD_S = 60.0


def controller(**params: Any) -> DynamicPeakShaving:
    defaults: dict[str, Any] = {
        "initial_peak_import_w": 8000,
        "forecast_margin_pct": 10,
        "min_soc_pct": 0,
        "efficiency_pct": 100,
        "forecast_mode": "yesterday",
        "max_input_age_s": 120,
    }
    p = DynamicPeakShavingParams(**{**defaults, **params})
    return DynamicPeakShaving("dps", 20, p, DEVICES, ControllerSite(timezone=ZONE))


def net_load_w(t_s: float) -> float:
    """2 kW all day, 6 kW from 12:00 to 13:00 UTC."""
    hour = (t_s % 86400.0) / 3600.0
    return 6000.0 if 12.0 <= hour < 13.0 else 2000.0


class Site:
    """The battery delivers last cycle's setpoint; it stays full (1 kWh usable) and takes no
    charge, so recharging adds no peaks of its own."""

    def __init__(self, c: DynamicPeakShaving, start_s: float) -> None:
        self.h = CycleHarness([c], DEVICES)
        self.h.clock.set_time(start_s - PERIOD_S)
        self.battery_w = 0.0

    def step(self) -> None:
        self.h.advance(PERIOD_S)
        now_s = self.h.clock.time()
        self.grid_w = net_load_w(now_s) - self.battery_w
        self.h.set_many(
            {
                **battery(100.0, max_charge_w=0.0, power_w=self.battery_w),
                f"{B}/Capacity": 1000.0,
                "grid/ActivePower": self.grid_w,
            }
        )
        self.h.cycle_once()
        out = self.h.output(SET)
        assert isinstance(out, float | int)
        self.battery_w = float(out)

    def run_until(self, t_s: float) -> None:
        while self.h.clock.time() + PERIOD_S <= t_s:
            self.step()

    def status(self, name: str) -> float:
        value = self.h.output(f"dps/{name}")
        assert isinstance(value, float | int)
        return float(value)


def full(energy_wh: float, max_w: float = 10_000.0) -> BatteryNow:
    return BatteryNow(energy_wh, energy_wh, max_discharge_w=max_w, max_charge_w=max_w)


def test_lowest_threshold_by_hand() -> None:
    f = np.array([1000.0, 5000.0, 5000.0, 1000.0])  # 15-min steps: 0.25 h each
    # Full, so no recharge before the peak: 2 steps · (5000 − T) · 0.25 h = 1000 Wh → 3000 W
    assert lowest_threshold(f, 900.0, full(1000.0), 0.8) == pytest.approx(3000.0, abs=1.0)
    assert lowest_threshold(f, 900.0, full(1000.0, 1500.0), 0.8) == 3500.0, "power limit"
    assert lowest_threshold(f, 900.0, full(1000.0), 0.8, floor_w=4000.0) == 4000.0
    assert lowest_threshold(f, 900.0, full(1e9), 0.8) == 0.0, "enough energy for all"
    assert lowest_threshold(f, 900.0, full(0.0), 0.8) == pytest.approx(5000.0, abs=1.0)


def test_lowest_threshold_counts_recharging_between_peaks() -> None:
    f = np.array([5000.0, 1000.0, 5000.0])
    # E after peak 1: 500 − (5000 − T)/4; recharge (0.8·T − 1000)/4; peak 2 needs
    # (5000 − T)/4 again: 2.8·T = 9000 → T = 3214.3 W (3000 W without the recharge fails).
    assert lowest_threshold(f, 900.0, full(500.0), 0.8) == pytest.approx(3214.3, abs=1.0)


def test_first_day_uses_the_initial_threshold_then_plans_from_yesterday() -> None:
    site = Site(controller(), JAN_31_LOCAL_S)
    site.step()
    assert site.status("PeakImportW") == 8000.0, "no history yet"
    site.run_until(JAN_31_LOCAL_S + 86400.0 - 3600.0)  # Jan 31, 23:00 local
    assert site.status("PeakImportW") == 8000.0
    assert site.status("MonthPeakW") == pytest.approx(6000.0), "the unshaved hour"
    # February 1, 00:00 local: the month's peak is back to 0 and the plan uses yesterday:
    # 1 h · (6000 · 1.1 − T) = 1000 Wh  →  T = 5600 W
    site.run_until(JAN_31_LOCAL_S + 86400.0 + PERIOD_S)
    assert site.status("MonthPeakW") == 0.0
    assert site.status("PeakImportW") == pytest.approx(5600.0, abs=1.0)
    # Through February's noon peak the import is held at the threshold (the battery
    # follows one cycle late, so the first minute of the hour is over it).
    noon_s = JAN_31_LOCAL_S + 86400.0 + 13 * 3600.0
    site.run_until(noon_s + 2 * PERIOD_S)
    assert site.grid_w == pytest.approx(5600.0, abs=1.0)
    assert site.h.output("dps/State") == "shaving"
    site.run_until(noon_s + 3600.0)
    month_peak_w = site.status("MonthPeakW")
    assert 5600.0 < month_peak_w < 5700.0, "one minute at 6 kW in the first window"
    # That peak is paid now: the threshold never plans below it (less the 2 % hold margin).
    assert site.status("PeakImportW") >= month_peak_w * 0.98 - 1e-6


def test_month_peak_is_the_floor_within_the_month() -> None:
    c = controller(initial_peak_import_w=3000)
    c.restore_state({"month": [2026, 2], "month_peak_w": 7000.0})
    site = Site(c, datetime(2026, 2, 10, tzinfo=UTC).timestamp())
    site.step()
    assert site.status("PeakImportW") == pytest.approx(7000.0 * 0.98), "the hold margin"
    assert site.status("MonthPeakW") == 7000.0
    assert c.durable_state() == {"month": [2026, 2], "month_peak_w": 7000.0}


def test_stale_inputs_stand_aside() -> None:
    h = CycleHarness([controller()], DEVICES)
    h.set_many({**battery(), f"{B}/Capacity": 2000.0, "grid/ActivePower": 9000.0})
    h.advance(500)
    h.cycle_once()
    assert h.output("dps/State") == "stale_inputs"
    assert h.output(SET) == 0, "nothing written: the output keeps its default"


def site_config(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": [{"id": B, "profile": "battery"}, {"id": "grid", "profile": "grid_meter"}],
        "controllers": [
            {"id": "dps", "type": "dynamic_peak_shaving", "priority": 20, "params": params}
        ],
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "controllers[0].params.initial_peak_import_w: Field required"),
        ({"initial_peak_import_w": 0}, "params.initial_peak_import_w: Input should be greater"),
        ({"initial_peak_import_w": 5000, "forecast_margin_pct": -1}, "forecast_margin_pct"),
        ({"initial_peak_import_w": 5000, "recharge_gap_pct": 100}, "recharge_gap_pct"),
        ({"initial_peak_import_w": 5000, "horizon_h": 0.5}, "params.horizon_h"),
        ({"initial_peak_import_w": 5000, "forecast_mode": "magic"}, "params.forecast_mode"),
        ({"initial_peak_import_w": 5000, "peak_w": 1}, "params.peak_w: unknown key"),
    ],
)
def test_bad_params_are_refused_naming_the_field(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_edge_config(site_config(params))
    assert message in str(err.value)


@pytest.mark.parametrize(
    "saved",
    [{}, {"month": "2026-02", "month_peak_w": 1.0}, {"month": [2026, 2], "month_peak_w": -5}],
)
def test_an_unreadable_saved_peak_is_ignored(saved: dict[str, Any]) -> None:
    c = controller()
    c.restore_state(saved)
    assert c.durable_state() is None, "nothing taken from it"


def write_history(path: Any, start_s: float, days: int) -> None:
    """``days`` days of the test site's load (no PV) before ``start_s``, one row a quarter."""
    rows = ["timestamp,load_w,pv_w"]
    for k in range(days * 96):
        t_s = start_s - days * 86400.0 + k * 900.0
        stamp = datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{stamp},{net_load_w(t_s)},0")
    path.write_text("\n".join(rows) + "\n")


def test_a_seeded_history_plans_the_threshold_from_the_first_cycle(tmp_path: Any) -> None:
    history = tmp_path / "history.csv"
    write_history(history, JAN_31_LOCAL_S, days=2)
    site = Site(controller(history_csv=str(history)), JAN_31_LOCAL_S)
    site.step()
    # Yesterday's 6 kW hour (+10 %) less what 1 kWh holds over it: far below the 8 kW.
    assert site.status("PeakImportW") < 6000.0


def test_an_unreadable_history_is_refused_naming_it(tmp_path: Any) -> None:
    bad = tmp_path / "history.csv"
    bad.write_text("timestamp,load_w\n2026-01-30T00:00:00Z,1000\n")  # no pv_w column
    with pytest.raises(ValueError, match="history_csv"):
        controller(history_csv=str(bad))
