"""A pushed config that adds, keeps or removes a battery's ``estimator:`` is run from the
next cycle on: a kept one goes on with its filter, an added one starts, a removed one stops."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from ems.clock import VirtualClock
from ems.edge.config import parse_edge_config
from ems.edge.configsync import ConfigApplier
from ems.edge.runtime import EdgeRuntime
from ems.protocol import EdgeConfigPush

T0 = 1_775_001_600.0
ESTIMATE = "battery_1/SocEstimate"


def site(estimator: dict[str, Any] | None, power_w: float = 3000.0) -> dict[str, Any]:
    battery: dict[str, Any] = {"id": "battery_1", "profile": "battery", "simulator": "battery_ecm"}
    if estimator is not None:
        battery["estimator"] = estimator
    window = {"from": "00:00", "to": "24:00", "action": "discharge", "power_w": power_w}
    return {
        "edge_id": "site-e",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4, "timezone": "UTC"},
        "devices": [battery, {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"}],
        "controllers": [
            {"id": "tou", "type": "tou_schedule", "priority": 30, "params": {"windows": [window]}}
        ],
    }


class Site:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.clock = VirtualClock(T0)
        self.runtime = EdgeRuntime(parse_edge_config(doc), self.clock)
        self.applier = ConfigApplier(self.runtime, None)
        self.version = 0
        self.k = 0

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.clock.advance(1.0)
            self.runtime.host.tick_all()
            self.runtime.cycle.run_once(self.k)
            self.k += 1

    def push(self, doc: dict[str, Any]) -> None:
        self.version += 1
        push = EdgeConfigPush(version=self.version, config=copy.deepcopy(doc))
        ack = asyncio.run(self.applier.apply(push))
        assert ack.status == "applied", ack

    def estimate_ts(self) -> float | None:
        sample = self.runtime.store.get_channel(ESTIMATE)
        return None if sample is None else sample.ts


def test_an_estimator_pushed_live_is_added_kept_and_removed() -> None:
    site_ = Site(site(None))
    site_.run(5)
    assert site_.estimate_ts() is None

    site_.push(site({"type": "ekf"}))  # added: estimated from the next cycles on
    site_.run(60)
    assert site_.estimate_ts() == site_.clock.time()
    assert site_.runtime.estimators is not None
    running = site_.runtime.estimators.filter_of("battery_1")
    assert running is not None

    site_.push(site({"type": "ekf"}, power_w=2000.0))  # the estimator unchanged: it goes on
    assert site_.runtime.estimators is not None
    assert site_.runtime.estimators.filter_of("battery_1") is running
    site_.run(5)
    assert site_.estimate_ts() == site_.clock.time()

    site_.push(site({"type": "ekf", "voltage_noise_v": 0.02}))  # changed: a new filter
    assert site_.runtime.estimators is not None
    assert site_.runtime.estimators.filter_of("battery_1") is None  # before its first sample
    site_.run(5)
    assert site_.runtime.estimators.filter_of("battery_1") is not None

    site_.push(site(None))  # removed: nothing estimated any more, the last value goes stale
    last_ts = site_.estimate_ts()
    site_.run(5)
    assert site_.estimate_ts() in (None, last_ts)
    assert site_.runtime.estimators is None
