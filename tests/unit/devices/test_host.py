"""The simulation host: threads or lockstep, and the balance closed at the grid meter."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import ClassVar

import pytest

from ems.clock import RealClock, VirtualClock
from ems.dal import Category, ChannelStore, Sample, Value
from ems.devices.base import BalanceRole, Simulator, SimulatorConfig, SiteContext
from ems.devices.host import SimulationHost
from ems.edge.config import load_edge_config
from ems.edge.runtime import EdgeRuntime

SITE = SiteContext(52.52, 13.405, 34.0, "Europe/Berlin")


def balance_holds(values: Mapping[str, Sample]) -> bool:
    load = values["load/ActivePower"].value
    total = sum(
        float(values[a].value)  # type: ignore[arg-type]
        for a in ("grid/ActivePower", "pv_1/ActivePower", "battery_1/ActivePower")
    )
    return abs(float(load) - total) < 1e-9  # type: ignore[arg-type]


def test_lockstep_balance_every_tick() -> None:
    clock = VirtualClock(1_782_079_200.0)  # 2026-06-21 22:00Z
    runtime = EdgeRuntime(load_edge_config(None), clock)
    for _ in range(300):
        runtime.host.tick_all()
        assert balance_holds(runtime.store.snapshot())
        clock.advance(60.0)


def test_threads_keep_the_balance_in_every_snapshot() -> None:
    """Each device on its own thread, snapshots taken concurrently, never unbalanced."""
    clock = RealClock()
    runtime = EdgeRuntime(load_edge_config(None), clock)
    runtime.host._period_s = 0.001
    published = threading.Event()
    count = 0

    def seen(_a: str, _s: Sample) -> None:
        nonlocal count
        count += 1
        if count >= 400:
            published.set()

    runtime.store.watch("grid/ActivePower", seen)
    runtime.host.tick_all()
    runtime.host.start()
    try:
        snapshots = 0
        while not published.is_set():
            assert balance_holds(runtime.store.snapshot())
            snapshots += 1
            published.wait(0.0005)
    finally:
        runtime.host.stop()
    assert published.is_set()
    assert snapshots > 10
    assert runtime.host.errors == 0


class _Broken(Simulator):
    type_name: ClassVar[str] = "broken"
    config_model: ClassVar[type[SimulatorConfig]] = SimulatorConfig
    balance_role: ClassVar[BalanceRole] = BalanceRole.CONSUMPTION

    def __init__(self) -> None:
        super().__init__("load", SimulatorConfig(), SITE)
        self.calls = 0

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("sensor glitch")
        return {"ActivePower": 100.0 * self.calls}


def test_failing_simulator_is_logged_and_keeps_its_last_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    store = ChannelStore(clock)
    store.declare("load/ActivePower", Category.INPUT, "W")
    sim = _Broken()
    host = SimulationHost(store, clock, [sim], {})
    host.tick_all()
    with caplog.at_level(logging.ERROR):
        host.tick_all()
    assert "simulator load failed" in caplog.text
    assert host.errors == 1
    assert store.get_channel("load/ActivePower").value == 100.0  # type: ignore[union-attr]
    host.tick_all()
    assert store.get_channel("load/ActivePower").value == 300.0  # type: ignore[union-attr]


def test_setpoints_reach_the_simulator() -> None:
    clock = VirtualClock()
    runtime = EdgeRuntime(load_edge_config(None), clock)
    runtime.host.tick_all()
    runtime.store.set_channel("battery_1/SetActivePower", 1500.0)
    clock.advance(1.0)
    runtime.host.tick_all()
    assert runtime.store.get_channel("battery_1/ActivePower").value == 1500.0  # type: ignore[union-attr]


def test_one_grid_per_site() -> None:
    clock = VirtualClock()
    config = load_edge_config(None)
    runtime = EdgeRuntime(config, clock)
    grid = next(s for s in runtime.simulators if s.device_id == "grid")
    with pytest.raises(ValueError, match="one grid connection point"):
        SimulationHost(runtime.store, clock, [grid, grid], {})
