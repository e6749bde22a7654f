"""The simulate summary: energy, cost, peak, throughput and sign changes from per-cycle power."""

from __future__ import annotations

import datetime as dt

import pytest

from ems.edge.energy_summary import SiteSummary
from ems.tariff import Tariff, TariffConfig

T0 = dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC).timestamp()


def test_without_a_tariff_the_cost_is_null_not_zero() -> None:
    summary = SiteSummary(None, "Europe/Berlin", ["b"])
    summary.add(T0, 3600.0, 2000.0, {"b": None})
    result = summary.result()
    assert result["cost"] is None and result["currency"] is None
    assert result["import_kwh"] == pytest.approx(2.0)
    assert result["peak_import_15min_w"] == pytest.approx(2000.0)


def test_figures_with_a_tariff() -> None:
    tariff = Tariff.from_config(
        TariffConfig.model_validate(
            {
                "currency": "EUR",
                "import": {"price_per_kwh": 0.3},
                "export": {"price_per_kwh": 0.1},
                "demand_charge_per_kw_month": 5.0,
            }
        ),
        "Europe/Berlin",
        ".",
    )
    summary = SiteSummary(tariff, "Europe/Berlin", ["b"])
    summary.add(T0, 1800.0, 4000.0, {"b": -1000.0})  # 2 kWh imported, peak 4 kW
    summary.add(T0 + 1800, 1800.0, -2000.0, {"b": 3000.0})  # 1 kWh exported
    result = summary.result()
    assert result["import_kwh"] == pytest.approx(2.0)
    assert result["export_kwh"] == pytest.approx(1.0)
    assert result["cost"] == pytest.approx(2.0 * 0.3 - 1.0 * 0.1 + 4.0 * 5.0)
    assert result["currency"] == "EUR"
    assert result["battery_throughput_kwh"] == pytest.approx(0.5 + 1.5)


def test_sign_changes_count_charge_discharge_flips_per_battery_across_idle_cycles() -> None:
    summary = SiteSummary(None, "UTC", ["a", "b"])
    powers = {
        "a": [0.0, -100.0, 0.0, 0.0, 200.0, 300.0, -1.0, None, -5.0, 7.0],  # 3 flips
        "b": [500.0, 0.0, 400.0, 0.0, 100.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # never flips
    }
    for k in range(10):
        summary.add(T0 + k, 1.0, 0.0, {d: p[k] for d, p in powers.items()})
    assert summary.result()["battery_sign_changes"] == 3
