"""Battery health: cycles and throughput from rollups, SOH measured over charging runs or
taken from the BMS, and the remaining life at the period's rate."""

from __future__ import annotations

import pytest

from ems.cloud.telemetry.model import HistoryPoint, LatestValue
from ems.cloud.telemetry.rollup import RollupPoint
from ems.reports.battery_health import BatteryHealthConfig, compute_battery_health

Q = 900
CAPACITY_WH = 10_000.0


def quarter(t_s: int, power_w: float) -> RollupPoint:
    wh = abs(power_w) * Q / 3600
    return RollupPoint(
        t_s, 1, power_w, power_w, power_w, wh if power_w > 0 else 0.0, wh if power_w < 0 else 0.0
    )


def day_of_cycling(
    true_capacity_wh: float, days: int
) -> tuple[list[RollupPoint], list[HistoryPoint]]:
    """Each day: 4 h charging at 2 kW from 10 % SOC, 4 h discharging at 2 kW, rest idle."""
    quarters: list[RollupPoint] = []
    soc: list[HistoryPoint] = []
    level = 10.0
    for d in range(days):
        for k in range(96):
            t = (d * 96 + k) * Q
            power = -2000.0 if k < 16 else 2000.0 if 16 <= k < 32 else 0.0
            before = level
            level -= power * Q / 3600 / true_capacity_wh * 100
            quarters.append(quarter(t, power))
            soc.append(
                HistoryPoint(t, (before + level) / 2, min(before, level), max(before, level), None)
            )
    return quarters, soc


def test_cycles_throughput_and_measured_soh() -> None:
    quarters, soc = day_of_cycling(9_000.0, days=10)  # a battery at 90 % of nameplate
    config = BatteryHealthConfig(capacity_wh=CAPACITY_WH)
    health = compute_battery_health(config, quarters, soc, {}, period_days=10)
    assert health["charge_kwh"] == pytest.approx(80.0)
    assert health["throughput_kwh"] == pytest.approx(160.0)
    assert health["equivalent_full_cycles"] == pytest.approx(8.0)
    assert health["cycles_per_day"] == pytest.approx(0.8)
    assert len(health["measured_capacities_wh"]) == 10
    assert health["soh_pct"] == pytest.approx(90.0)
    rul = health["remaining_useful_life"]
    # 10 points of SOH left at 20 % per 6000 EFC = 3000 EFC; at 0.8 EFC/day = 3750 days
    assert rul["remaining_cycles"] == pytest.approx(3000.0)
    assert rul["days"] == pytest.approx(3750.0)
    assert rul["eol_soh_pct"] == 80.0


def test_the_bms_value_wins_and_shallow_cycles_measure_nothing() -> None:
    quarters, soc = day_of_cycling(9_000.0, days=2)
    shallow = BatteryHealthConfig(capacity_wh=CAPACITY_WH, min_swing_pct=95)
    health = compute_battery_health(shallow, quarters, soc, {}, period_days=2)
    assert health["measured_capacities_wh"] == []
    assert health["soh_pct"] is None
    assert health["remaining_useful_life"]["days"] is None
    assert health["soh_source"].startswith("unknown")

    bms = BatteryHealthConfig(capacity_wh=CAPACITY_WH, soh_channel="battery/SohEstimate")
    latest = {"battery/SohEstimate": LatestValue(0.0, 96.0, None)}
    health = compute_battery_health(bms, quarters, soc, latest, period_days=2)
    assert health["soh_pct"] == 96.0
    assert health["soh_source"] == "BMS (battery/SohEstimate)"


def test_an_idle_battery_has_no_finite_life_estimate() -> None:
    quarters = [quarter(k * Q, 0.0) for k in range(96)]
    health = compute_battery_health(
        BatteryHealthConfig(capacity_wh=CAPACITY_WH, soh_channel="b/Soh"),
        quarters,
        [],
        {"b/Soh": LatestValue(0.0, 99.0, None)},
        period_days=1,
    )
    assert health["equivalent_full_cycles"] == 0.0
    assert health["remaining_useful_life"]["days"] is None
