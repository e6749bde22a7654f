"""Every optimiser case of the control benchmark is a valid config (its forecast too)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml

from ems.edge.controllers.optimizer import OptimizerParams

CASES = Path(__file__).parents[4] / "bench" / "control_cases"
BATTERY = {
    "capacity_wh": 10_000,
    "efficiency": 0.95,
    "min_soc_pct": 10,
    "max_soc_pct": 95,
    "derate_band_pct": 5,
    "derate_floor": 0.2,
    "max_charge_power_w": 5000,
    "max_discharge_power_w": 5000,
    "history_csv": "history.csv",
    "weather_csv": "weather.csv",
}


@pytest.mark.parametrize("path", sorted(CASES.glob("optimizer_*.yaml")), ids=lambda p: p.stem)
def test_the_optimizer_cases_load(path: Path) -> None:
    document = yaml.safe_load(string.Template(path.read_text()).substitute(BATTERY))
    found = [c for c in document["controllers"] if c["type"] == "optimizer"]
    assert found
    for c in found:
        params = OptimizerParams.model_validate(c["params"])
        assert params.capacity_wh == 10_000
