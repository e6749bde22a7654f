"""``estimator: {type: ekf}`` on a battery in the edge YAML: validated, built, run by
the cycle, and published as SocEstimate beside the BMS's drifting Soc."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from ems.clock import VirtualClock
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime
from ems.errors import ConfigError

T0 = 1_775_001_600.0


def site(estimator: dict[str, Any] | None = None, profile: str = "battery") -> dict[str, Any]:
    battery: dict[str, Any] = {
        "id": "battery_1",
        "profile": profile,
        "simulator": "battery_ecm",
        "params": {"bms_error": {"current_bias_a": 2.0, "initial_soc_error_pct": 15.0}},
    }
    if estimator is not None:
        battery["estimator"] = estimator
    return {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4, "timezone": "UTC"},
        "devices": [battery, {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"}],
        "controllers": [
            {
                "id": "tou",
                "type": "tou_schedule",
                "priority": 30,
                "params": {
                    "windows": [
                        {"from": "00:00", "to": "24:00", "action": "discharge", "power_w": 3000}
                    ]
                },
            }
        ],
    }


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        ({"type": "kalman"}, "devices[0].estimator.type"),
        ({"type": "ekf", "voltage_noise_v": 0}, "devices[0].estimator.voltage_noise_v"),
        ({"type": "ekf", "colour": "red"}, "devices[0].estimator.colour: unknown key"),
    ],
)
def test_a_bad_estimator_is_refused_naming_the_field(
    estimator: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_edge_config(site(estimator))


def test_only_a_battery_takes_an_estimator() -> None:
    doc = site()
    doc["devices"][1]["estimator"] = {"type": "ekf"}
    with pytest.raises(ConfigError, match=r"devices\[1\]\.estimator: only a battery"):
        parse_edge_config(doc)


def run(config: dict[str, Any], seconds: int) -> EdgeRuntime:
    runtime = EdgeRuntime(parse_edge_config(config), VirtualClock(T0))
    clock = runtime.clock
    assert isinstance(clock, VirtualClock)
    for k in range(seconds):
        clock.advance(1.0)
        runtime.host.tick_all()
        runtime.cycle.run_once(k)
    return runtime


def test_the_cycle_publishes_an_estimate_that_beats_the_drifting_count() -> None:
    runtime = run(site({"type": "ekf"}), 1800)
    store = runtime.store
    true_soc = store.get_channel("battery_1/SocTrue")
    estimate = store.get_channel("battery_1/SocEstimate")
    std = store.get_channel("battery_1/SocEstimateStd")
    bms = store.get_channel("battery_1/Soc")
    assert true_soc is not None and estimate is not None and std is not None and bms is not None
    assert isinstance(true_soc.value, float) and isinstance(estimate.value, float)
    assert isinstance(bms.value, float) and isinstance(std.value, float)
    assert estimate.ts == runtime.clock.time()
    assert abs(bms.value - true_soc.value) > 14.0  # started 15 off, the bias keeps it off
    assert abs(estimate.value - true_soc.value) < 2.0
    assert std.value < 5.0  # on the LFP plateau after half an hour of one current


def test_without_an_estimator_nothing_is_estimated_and_numpy_stays_out() -> None:
    runtime = run(site(), 3)
    assert runtime.store.get_channel("battery_1/SocEstimate") is None
    program = (
        "import sys; from ems.edge.runtime import EdgeRuntime; "
        "print('ems.estimation.ekf' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
