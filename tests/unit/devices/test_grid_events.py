"""Grid events of the simulated grid meter: sags, swells and frequency excursions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ems.dal import Value
from ems.devices.base import SiteContext
from ems.devices.grid_meter import GridMeterConfig, GridMeterSimulator

SITE = SiteContext(latitude_deg=52.52, longitude_deg=13.405, altitude_m=34.0, timezone="UTC")
T0 = 1_781_827_200.0  # 2026-06-19T00:00:00Z
QUIET = {"voltage_sd_v": 0.0, "frequency_sd_hz": 0.0, "voltage_droop_v_per_kw": 0.5}


def make(events: list[dict[str, Any]], **config: Any) -> GridMeterSimulator:
    return GridMeterSimulator("grid", GridMeterConfig(events=events, **{**QUIET, **config}), SITE)


def run(sim: GridMeterSimulator, seconds: int, net_w: float = 0.0) -> list[dict[str, Value]]:
    """Step every second from T0 with the site drawing ``net_w``."""
    out = []
    for k in range(seconds):
        sim.close_balance(T0 + k, net_w)
        out.append(sim.step(T0 + k, 1.0 if k else 0.0, {}))
    return out


def test_no_events_keep_nominal() -> None:
    seen = run(make([]), 5)
    assert {s["Voltage"] for s in seen} == {230.0}
    assert {s["Frequency"] for s in seen} == {50.0}


def test_swell_and_over_frequency_from_start_offsets() -> None:
    sim = make(
        [
            {"start_s": 10, "duration_s": 5, "voltage_v": 250.0},
            {"start_s": 12, "duration_s": 10, "frequency_hz": 50.5},
        ]
    )
    seen = run(sim, 30)
    volts = [s["Voltage"] for s in seen]
    hertz = [s["Frequency"] for s in seen]
    assert volts[9] == 230.0
    assert volts[10:15] == [250.0] * 5
    assert volts[15] == 230.0
    assert hertz[11] == 50.0
    assert hertz[12:22] == [50.5] * 10
    assert hertz[22] == 50.0


def test_site_droop_applies_on_top_of_a_sag() -> None:
    sim = make([{"start_s": 0, "duration_s": 60, "voltage_v": 207.0}])  # 0.90 pu
    seen = run(sim, 3, net_w=-4000.0)  # exporting 4 kW raises the voltage by 2 V
    assert seen[-1]["Voltage"] == pytest.approx(209.0)


def test_event_at_an_absolute_time() -> None:
    sim = make([{"at": "2026-06-19T00:00:05Z", "duration_s": 2, "frequency_hz": 49.8}])
    hertz = [s["Frequency"] for s in run(sim, 10)]
    assert hertz[4:8] == [50.0, 49.8, 49.8, 50.0]


def test_offsets_count_from_the_first_step_not_from_zero() -> None:
    sim = make([{"start_s": 3, "duration_s": 1, "voltage_v": 240.0}])
    sim.step(T0 + 100, 0.0, {})
    assert sim.step(T0 + 103, 3.0, {})["Voltage"] == 240.0


def test_the_last_listed_event_wins_an_overlap() -> None:
    sim = make(
        [
            {"start_s": 0, "duration_s": 10, "voltage_v": 240.0},
            {"start_s": 2, "duration_s": 2, "voltage_v": 250.0},
        ]
    )
    assert [s["Voltage"] for s in run(sim, 5)] == [240.0, 240.0, 250.0, 250.0, 240.0]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"duration_s": 5, "voltage_v": 250.0}, "exactly one of start_s and at"),
        (
            {"start_s": 0, "at": "2026-06-19T00:00:00Z", "duration_s": 5, "voltage_v": 250.0},
            "exactly one of start_s and at",
        ),
        ({"start_s": 0, "duration_s": 5}, "voltage_v, frequency_hz or both"),
        ({"start_s": 0, "duration_s": 0, "voltage_v": 250.0}, "duration_s"),
        ({"start_s": -1, "duration_s": 5, "voltage_v": 250.0}, "start_s"),
        ({"start_s": 0, "duration_s": 5, "volts": 250.0}, "volts"),
    ],
)
def test_bad_events_are_refused(event: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        GridMeterConfig(events=[event])
