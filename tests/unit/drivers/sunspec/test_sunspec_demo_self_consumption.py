"""Self-consumption on the SunSpec demo site holds the grid at 0 W through the driver path.

The demo's battery and PV are served over SunSpec (stepped by the test, at noon,
so the PV has a surplus); the edge runs ``demo_sunspec.yaml`` as shipped (only
the ports are the test's), reads them with ``driver: sunspec``, and its
simulated grid meter closes the balance over those readings. Self-consumption
then charges the served battery with the surplus until the grid reads 0 W.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from served_site import Served

from ems.clock import RealClock
from ems.dal import Sample
from ems.devices.measured import STALE_POLLS
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime

SITES = resources.files("ems.edge.sites")
DEMO = Path(str(SITES.joinpath("demo.yaml")))
SUNSPEC_DEMO = Path(str(SITES.joinpath("demo_sunspec.yaml")))
NOON_S = datetime(2026, 6, 21, 11, 0, tzinfo=UTC).timestamp()
READ_WAIT_S = 10.0  # for one poll of the battery (1 s apart when all is well)
MAX_STEPS = 40  # served steps (one per battery poll) the grid gets to settle
NEAR_ZERO_W = 60.0  # the controller's 50 W deadband, plus a load step between polls
SETTLED_READS = 3  # consecutive battery polls with the grid near 0 W
DRIVEN = ("pv_1", "battery_1")  # poll_s 1.0 in the demo YAML


def document(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return doc


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served(document(DEMO), NOON_S)
    yield s
    s.close()


def test_self_consumption_drives_the_grid_to_zero_through_sunspec(served: Served) -> None:
    doc = document(SUNSPEC_DEMO)
    assert "self_consumption" in {c["type"] for c in doc["controllers"]}
    for device in doc["devices"]:
        if device.get("driver") == "sunspec":
            device["params"]["port"] = served.ports[device["id"]]
    rt = EdgeRuntime(parse_edge_config(doc, str(SUNSPEC_DEMO)), RealClock())
    polled = threading.Event()

    def seen(_address: str, _sample: Sample) -> None:
        polled.set()

    unwatch = rt.store.watch("battery_1/ActivePower", seen)
    grid_w: list[float] = []

    def grid_now() -> float:
        snapshot = rt.store.snapshot()
        value = snapshot.number("grid/ActivePower")
        assert value is not None
        # One write holds a reading and the grid closed over it: the balance is exact
        # (while the readings are fresh; a stale one would count as 0 W).
        ages = [snapshot.age_s(f"{d}/ActivePower", snapshot.taken_at) for d in DRIVEN]
        if all(a is not None and a < STALE_POLLS * 1.0 for a in ages):
            parts = [snapshot.number(f"{d}/ActivePower") for d in ("grid", *DRIVEN)]
            load_w = snapshot.number("load/ActivePower")
            assert load_w is not None and all(p is not None for p in parts)
            assert load_w == pytest.approx(sum(p for p in parts if p is not None), abs=1e-6)
        return value

    def drive() -> bool:
        """Step the served devices once per battery poll until the grid has settled."""
        settled = 0
        for _ in range(MAX_STEPS):
            polled.clear()
            if not polled.wait(READ_WAIT_S):
                return False
            grid_w.append(grid_now())
            settled = settled + 1 if abs(grid_w[-1]) <= NEAR_ZERO_W else 0
            if settled == SETTLED_READS:
                return True
            served.step(1.0)  # the setpoint written over SunSpec takes effect
        return False

    async def run() -> bool:
        stop = asyncio.Event()
        edge = asyncio.create_task(rt.run(stop))
        try:
            return await asyncio.to_thread(drive)
        finally:
            stop.set()
            await edge

    try:
        assert asyncio.run(run()), f"the grid did not settle near 0 W: {grid_w}"
    finally:
        unwatch()
    pv_w = served.channels["pv_1"]["ActivePower"]
    assert isinstance(pv_w, float) and pv_w > 1000.0  # noon: a surplus to store
    assert min(grid_w) < -500.0, "the grid never saw the PV surplus the battery then took"
    battery = rt.store.get_channel("battery_1/ActivePower")
    assert battery is not None and isinstance(battery.value, float | int)
    assert battery.value < -500.0  # charging, as read back over SunSpec
    setpoint = served.site.devices["battery_1"].setpoints["SetActivePower"].value
    assert isinstance(setpoint, float | int)
    assert setpoint == pytest.approx(battery.value, abs=50.0)  # the written setpoint
    assert rt.store.get_channel("self_consumption/State").value == "charging"  # type: ignore[union-attr]
