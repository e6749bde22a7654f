"""``estimator: {type: learned}`` in the edge YAML: refused naming the field, else run by the
cycle, which publishes the EKF's estimate and says so until a model has earned its place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ems.clock import VirtualClock
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime
from ems.errors import ConfigError
from ems.estimation import LearnedConfig

T0 = 1_775_001_600.0


def site(estimator: dict[str, Any]) -> dict[str, Any]:
    return {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4, "timezone": "UTC"},
        "devices": [
            {
                "id": "battery_1",
                "profile": "battery",
                "simulator": "battery_ecm",
                "estimator": estimator,
            },
            {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"},
        ],
    }


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        ({"type": "learned", "hidden_units": 0}, "devices[0].estimator.hidden_units"),
        ({"type": "learned", "window_min": 10_000}, "devices[0].estimator.window_min"),
        ({"type": "learned", "retrain_every_s": 1}, "devices[0].estimator.retrain_every_s"),
        ({"type": "learned", "voltage_noise_v": 0}, "devices[0].estimator.voltage_noise_v"),
        ({"type": "learned", "colour": "red"}, "devices[0].estimator.colour: unknown key"),
        (
            {"type": "learned", "window_min": 10, "window_stride_min": 20},
            "window_stride_min must not exceed window_min",
        ),
    ],
)
def test_a_bad_learned_estimator_is_refused_naming_the_field(
    estimator: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_edge_config(site(estimator))


def test_the_type_picks_the_estimator() -> None:
    learned = parse_edge_config(site({"type": "learned", "hidden_units": 8})).devices[0]
    assert isinstance(learned.estimator, LearnedConfig)
    assert learned.estimator.hidden_units == 8
    ekf = parse_edge_config(site({"type": "ekf"})).devices[0]
    assert ekf.estimator is not None and not isinstance(ekf.estimator, LearnedConfig)


def test_the_cycle_publishes_the_ekf_and_its_source_until_a_model_exists(tmp_path: Path) -> None:
    config = parse_edge_config(site({"type": "learned"}))
    runtime = EdgeRuntime(config, VirtualClock(T0), state_dir=tmp_path)
    clock = runtime.clock
    assert isinstance(clock, VirtualClock)
    for k in range(5):
        clock.advance(1.0)
        runtime.host.tick_all()
        runtime.cycle.run_once(k)
    snap = runtime.store.snapshot()
    assert snap.get("battery_1/SocEstimateSource").value == "ekf"  # type: ignore[union-attr]
    assert isinstance(snap.get("battery_1/SocEstimate").value, float)  # type: ignore[union-attr]
