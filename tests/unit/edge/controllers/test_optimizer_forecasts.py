"""The optimiser plans with the forecast factory's forecasters, learning from the load
and PV it measured itself; a forecaster that cannot be built is refused naming the field."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from test_optimizer import DAY0, DEVICES, TARIFF, Loop

from ems.edge.controllers.base import ControllerSite
from ems.edge.controllers.optimizer import Optimizer, OptimizerParams
from ems.forecast.pv import PvClearSkyForecaster


def optimizer(forecast: Any) -> Optimizer:
    params = OptimizerParams(capacity_wh=10_000, efficiency=1.0, forecast=forecast)
    site = ControllerSite(timezone="UTC", tariff=TARIFF, inline_work=True)
    return Optimizer("opt", 20, params, DEVICES, site)


def evening_load_w(t_s: float) -> float:
    """500 W, and 3 kW from 18:00 to 20:00 UTC."""
    hour = (t_s % 86_400.0) / 3600.0
    return 3000.0 if 18.0 <= hour < 20.0 else 500.0


def planned_net_w(ctrl: Optimizer, at_s: float) -> float:
    assert ctrl.plan is not None
    start_s, plan = ctrl.plan
    j = round((at_s - start_s) / 900.0)
    return float(plan.grid_w[j] + plan.battery_w[j])


@pytest.mark.parametrize(
    "forecast",
    [
        "naive",
        {"load": {"kind": "persistence", "mode": "yesterday"}},
        {"load": {"kind": "persistence", "mode": "best_recent"}, "pv": {"kind": "persistence"}},
    ],
)
def test_the_plan_forecasts_from_the_load_the_optimizer_measured(forecast: Any) -> None:
    ctrl = optimizer(forecast)
    loop = Loop(ctrl)
    loop.step(evening_load_w(DAY0 + 6 * 3600))
    evening_s = DAY0 + 18.5 * 3600
    assert planned_net_w(ctrl, evening_s) == pytest.approx(0.0, abs=1.0), "no history yet: 0"
    # A day measured one cycle per plan step; the plan made at 06:00 next day has
    # learned yesterday's evening.
    first_s = DAY0 + 6 * 3600 + 899.0  # the Loop's first cycle was one second before 06:00
    for k in range(96):
        loop.step(evening_load_w(first_s + k * 900.0), seconds=900.0)
    assert ctrl.plan is not None
    assert ctrl.plan[0] == DAY0 + 30 * 3600
    assert planned_net_w(ctrl, evening_s + 86_400.0) == pytest.approx(3000.0)
    assert planned_net_w(ctrl, evening_s + 86_400.0 - 3 * 3600) == pytest.approx(500.0)


def test_learned_takes_its_quantity_from_the_key_and_the_sites_zone() -> None:
    params = OptimizerParams(
        capacity_wh=10_000, forecast={"load": {"kind": "learned", "min_days": 10}}
    )
    assert not isinstance(params.forecast, str)
    assert params.forecast.params_of("load") == ("learned", {"min_days": 10, "quantity": "load"})
    assert optimizer(params.forecast) is not None


@pytest.mark.parametrize(
    ("forecast", "field", "detail"),
    [
        (
            {"load": {"kind": "persistence", "mode": "tomorrow"}},
            "forecast.QuantityForecasts.load",
            "mode: ",
        ),
        (
            {"pv": {"kind": "crystal_ball"}},
            "forecast.QuantityForecasts.pv",
            "kind: unknown forecaster",
        ),
        (
            {"pv": {"mode": "yesterday"}},
            "forecast.QuantityForecasts.pv",
            "kind: a forecaster kind is required",
        ),
        (
            {"load": {"kind": "persistence", "select_days": 0}},
            "forecast.QuantityForecasts.load",
            "select_days: ",
        ),
        ({"heat": {"kind": "persistence"}}, "forecast.QuantityForecasts.heat", "Extra inputs"),
        ("oracle", "forecast", "'naive' or 'perfect'"),
    ],
)
def test_a_forecaster_that_cannot_be_built_is_refused_naming_the_field(
    forecast: Any, field: str, detail: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        OptimizerParams(capacity_wh=10_000, forecast=forecast)
    text = str(exc.value)
    assert field in text
    assert detail in text


@pytest.mark.parametrize("days", [7.0, 400.0])
def test_history_days_out_of_range_is_refused_naming_it(days: float) -> None:
    with pytest.raises(ValidationError, match="history_days"):
        OptimizerParams(capacity_wh=10_000, history_days=days)


def test_history_csv_gives_the_first_plan_a_yesterday(tmp_path: Any) -> None:
    import datetime as dt

    history = tmp_path / "history.csv"
    rows = ["timestamp,load_w,pv_w"]
    for k in range(96):  # the day before DAY0 06:00, a row a quarter
        t_s = DAY0 + 6 * 3600 - 86_400.0 + k * 900.0
        stamp = dt.datetime.fromtimestamp(t_s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{stamp},{evening_load_w(t_s)},0")
    history.write_text("\n".join(rows) + "\n")
    params = OptimizerParams(
        capacity_wh=10_000, efficiency=1.0, forecast="naive", history_csv=str(history)
    )
    site = ControllerSite(timezone="UTC", tariff=TARIFF, inline_work=True)
    ctrl = Optimizer("opt", 20, params, DEVICES, site)
    Loop(ctrl).step(evening_load_w(DAY0 + 6 * 3600))
    assert planned_net_w(ctrl, DAY0 + 18.5 * 3600) == pytest.approx(3000.0)


def test_an_unreadable_history_csv_is_refused_naming_it(tmp_path: Any) -> None:
    bad = tmp_path / "history.csv"
    bad.write_text("timestamp,load_w,pv_w\n2026-06-18T00:00:00Z,lots,0\n")
    params = OptimizerParams(capacity_wh=10_000, history_csv=str(bad))
    site = ControllerSite(timezone="UTC", tariff=TARIFF, inline_work=True)
    with pytest.raises(ValueError, match="history_csv"):
        Optimizer("opt", 20, params, DEVICES, site)
    with pytest.raises(ValidationError, match="history_csv"):
        OptimizerParams(
            capacity_wh=10_000, forecast="perfect", forecast_csv="f.csv", history_csv="h.csv"
        )


_CLEARSKY = {"kind": "pv_clearsky", "latitude_deg": 48.1, "longitude_deg": 11.6}


def test_weather_csv_feeds_the_pv_forecasters_index(tmp_path: Any) -> None:
    weather = tmp_path / "weather.csv"
    weather.write_text(
        "timestamp,clear_sky_index\n2026-06-18T00:00:00Z,0.4\n2026-06-19T00:00:00Z,0.4\n"
    )
    params = OptimizerParams(
        capacity_wh=10_000,
        forecast={"load": {"kind": "persistence"}, "pv": _CLEARSKY},
        weather_csv=weather.name,
    )
    site = ControllerSite(timezone="UTC", tariff=TARIFF, inline_work=True, config_dir=tmp_path)
    ctrl = Optimizer("opt", 20, params, DEVICES, site)
    pv_fc = ctrl._pv_fc
    assert isinstance(pv_fc, PvClearSkyForecaster)
    assert pv_fc.index_forecast is not None
    assert np.nanmax(pv_fc.index_forecast.values) == pytest.approx(0.4)


def test_a_bad_weather_csv_is_refused_naming_it(tmp_path: Any) -> None:
    with pytest.raises(ValidationError, match="weather_csv"):
        OptimizerParams(capacity_wh=10_000, forecast="naive", weather_csv="w.csv")
    site = ControllerSite(timezone="UTC", tariff=TARIFF, inline_work=True, config_dir=tmp_path)
    for text in (
        "timestamp,clear_sky_index\n2026-06-18T00:00:00Z,cloudy\n",
        "timestamp,clear_sky_index\n2026-06-18T00:00:00Z,-0.5\n",
        "timestamp,cloud\n2026-06-18T00:00:00Z,0.5\n",
    ):
        (tmp_path / "w.csv").write_text(text)
        params = OptimizerParams(
            capacity_wh=10_000,
            forecast={"load": {"kind": "persistence"}, "pv": _CLEARSKY},
            weather_csv="w.csv",
        )
        with pytest.raises(ValueError, match="weather_csv"):
            Optimizer("opt", 20, params, DEVICES, site)
