"""The grid-support example site: its grid events, and the controllers answering them."""

from __future__ import annotations

import copy
import csv
import io
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from ems.clock import VirtualClock
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime
from ems.edge.simulate import simulate
from ems.errors import ConfigError
from ems.timefmt import parse_rfc3339

SITE = Path(str(resources.files("ems.edge.sites").joinpath("grid_support.yaml")))
START = "2026-06-19T10:00:00Z"  # local noon in Berlin: the PV is near its peak


def document() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(SITE.read_text("utf-8"))
    return doc


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    out = io.StringIO()
    simulate(parse_edge_config(document(), str(SITE)), parse_rfc3339(START), 0.75, out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def num(row: dict[str, str], column: str) -> float:
    return float(row[column])


def window(rows: list[dict[str, str]], start_s: int, end_s: int) -> list[dict[str, str]]:
    """Rows from ``start_s`` to ``end_s`` after the start (one row per second)."""
    return rows[start_s:end_s]


def test_swell_makes_the_battery_absorb_and_sag_inject(rows: list[dict[str, str]]) -> None:
    # 5 s open-loop response: settled 30 s into each 5 min event.
    for row in window(rows, 630, 900):
        assert num(row, "grid/Voltage") > 1.07 * 230.0 - 2.0
        assert num(row, "battery_1/ReactivePower") < -1500.0
        assert row["volt_var/State"] in ("absorbing", "limited")
    for row in window(rows, 1230, 1500):
        assert num(row, "battery_1/ReactivePower") > 1000.0
        assert row["volt_var/State"] == "injecting"
    for row in window(rows, 960, 1200) + window(rows, 1560, 1800):
        assert abs(num(row, "battery_1/ReactivePower")) < 300.0  # near nominal: ~0 var


def test_over_frequency_curtails_the_pv_by_the_droop(rows: list[dict[str, str]]) -> None:
    before = num(rows[1799], "pv_1/ActivePower")
    for row in window(rows, 1801, 2100):
        assert num(row, "grid/Frequency") == 50.5
        limit = num(row, "pv_1/SetActivePowerLimit")
        # IEEE 1547 defaults: 0.036 Hz deadband, 5 % droop (2.5 Hz at 50 Hz)
        assert limit == pytest.approx(before * (1 - (50.5 - 50.036) / 2.5), rel=0.01)
        assert num(row, "pv_1/ActivePower") <= limit + 1e-6
        assert row["frequency_watt/State"] == "curtailing"
    for row in window(rows, 2102, 2400):
        assert row["pv_1/SetActivePowerLimit"] == ""
        assert num(row, "pv_1/ActivePower") == num(row, "pv_1/AvailablePower")
    deeper = num(rows[2450], "pv_1/SetActivePowerLimit")
    assert deeper < 0.6 * num(rows[2450], "pv_1/AvailablePower")


def test_pv_holds_its_power_factor_within_its_rating(rows: list[dict[str, str]]) -> None:
    for row in rows[10::60]:
        p, q = num(row, "pv_1/ActivePower"), num(row, "pv_1/ReactivePower")
        assert q < 0, "absorbing"
        assert p / (p * p + q * q) ** 0.5 == pytest.approx(0.95, abs=0.005)
        assert (p * p + q * q) ** 0.5 <= 8800.0 + 1e-6


@pytest.mark.parametrize(
    ("controller", "params", "message"),
    [
        (1, {"curve": [{"v_pu": 1.0, "q_pct": 0}, {"v_pu": 0.9, "q_pct": 10}]}, "params.curve"),
        (0, {"power_factor": 1.5}, "params.power_factor"),
        (2, {"droop": 0.5}, "params.droop"),
        (2, {"nominal_hz": 55}, "params.nominal_hz"),
        (2, {"deadband": 0.036}, "params.deadband"),
    ],
)
def test_bad_controller_params_are_refused_at_start(
    controller: int, params: dict[str, Any], message: str
) -> None:
    doc = copy.deepcopy(document())
    doc["controllers"][controller]["params"].update(params)
    with pytest.raises(ConfigError, match=rf"controllers\[{controller}\]\.{message}"):
        parse_edge_config(doc, "grid_support.yaml")


def test_a_controller_on_a_device_the_site_lacks_is_refused_at_start() -> None:
    doc = copy.deepcopy(document())
    doc["controllers"][1]["params"]["device"] = "battery_9"
    config = parse_edge_config(doc, "grid_support.yaml")
    with pytest.raises(ConfigError, match=r"controllers\[1\]\.params\.device: 'battery_9'"):
        EdgeRuntime(config, VirtualClock())


def test_a_controller_id_may_not_be_a_device_id() -> None:
    doc = copy.deepcopy(document())
    doc["controllers"][1]["id"] = "grid"  # its State would be grid/State
    with pytest.raises(ConfigError, match="controllers: id 'grid' is already a device id"):
        parse_edge_config(doc, "grid_support.yaml")
