"""Forecasters by name: validated params, and refusals that name the field."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from ems.errors import ConfigError
from ems.forecast import Series
from ems.forecast.errors import ForecastParamsError
from ems.forecast.factory import kinds, make_forecaster, register
from ems.forecast.learned import LearnedForecaster
from ems.forecast.persistence import PersistenceForecaster
from ems.forecast.pv import PvClearSkyForecaster

MUNICH: dict[str, Any] = {
    "latitude_deg": 48.14,
    "longitude_deg": 11.58,
    "timezone": "Europe/Berlin",
}


def test_builds_each_kind() -> None:
    assert {"persistence", "pv_clearsky", "learned"} <= set(kinds())
    persistence = make_forecaster("persistence", mode="last_week")
    assert (
        isinstance(persistence, PersistenceForecaster)
        and persistence.name == "persistence_last_week"
    )
    pv = make_forecaster("pv_clearsky", **MUNICH, tilt_deg=30, peak_power_w=6000)
    assert isinstance(pv, PvClearSkyForecaster) and pv.peak_power_w == 6000.0
    load = make_forecaster(
        "learned", quantity="load", timezone="Europe/Berlin", fallback={"mode": "yesterday"}
    )
    assert isinstance(load, LearnedForecaster) and load.fallback.name == "persistence_yesterday"
    learned_pv = make_forecaster("learned", quantity="pv", **MUNICH, min_days=21, holdout_days=7)
    assert isinstance(learned_pv, LearnedForecaster) and learned_pv.min_days == 21.0
    over_sky = make_forecaster("learned", quantity="pv", **MUNICH, fallback_kind="pv_clearsky")
    assert isinstance(over_sky, LearnedForecaster) and over_sky.fallback.name == "pv_clearsky"
    assert over_sky.name == "learned_fallback_pv_clearsky"


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("persistence", {"mode": "tomorrow"}, "params.mode"),
        ("persistence", {"yesterday_weight": 1.5}, "params.yesterday_weight"),
        ("persistence", {"window": 3}, "params.window"),
        ("pv_clearsky", {"longitude_deg": 11.0}, "params.latitude_deg"),
        ("pv_clearsky", {**MUNICH, "timezone": "Mars/Olympus"}, "params.timezone"),
        ("pv_clearsky", {**MUNICH, "tilt_deg": 120}, "params.tilt_deg"),
        ("pv_clearsky", {**MUNICH, "window_days": 0}, "params.window_days"),
        ("learned", {}, "params.quantity"),
        ("learned", {"quantity": "wind"}, "params.quantity"),
        ("learned", {"quantity": "pv"}, "params.longitude_deg"),
        ("learned", {"quantity": "load", "min_days": 5}, "params.holdout_days"),
        ("learned", {"quantity": "load", "fallback": {"mode": "x"}}, "params.fallback.mode"),
        ("learned", {"quantity": "load", "num_leaves": 1}, "params.num_leaves"),
        ("learned", {"quantity": "load", "fallback_kind": "pv_clearsky"}, "params.fallback_kind"),
    ],
)
def test_bad_params_are_refused_with_the_field_named(
    kind: str, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(ForecastParamsError) as caught:
        make_forecaster(kind, **params)
    assert caught.value.reason == "invalid_params"
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ": ")
    assert isinstance(caught.value, ConfigError)  # the edge refuses its config with it
    assert "Value error" not in caught.value.detail


def test_unknown_kind_is_refused_and_the_known_listed() -> None:
    with pytest.raises(ForecastParamsError, match="persistence") as caught:
        make_forecaster("crystal_ball")
    assert (caught.value.reason, caught.value.field) == ("unknown_kind", "kind")


def test_other_modules_register_kinds() -> None:
    class ZeroParams(BaseModel):
        level_w: float = 0.0

    class Zero:
        name = "zero"

        def __init__(self, level_w: float) -> None:
            self.level_w = level_w

        def forecast(self, history: Series, start_s: float, steps: int) -> Series:
            return Series(start_s, history.step_s, np.full(steps, self.level_w))

    register("zero_for_test", ZeroParams, lambda p: Zero(p.level_w))
    assert make_forecaster("zero_for_test", level_w=5.0).name == "zero"
    with pytest.raises(ValueError, match="already registered"):
        register("zero_for_test", ZeroParams, lambda p: Zero(p.level_w))


def test_importing_the_factory_loads_neither_lightgbm_nor_pvlib() -> None:
    # The edge's memory budget: they are imported when a model is trained or
    # a clear sky computed, not when a config names a forecaster.
    code = (
        "import sys, ems.forecast.factory as f; f.make_forecaster('learned', quantity='load'); "
        "print(sorted(m for m in ('lightgbm', 'pvlib', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
