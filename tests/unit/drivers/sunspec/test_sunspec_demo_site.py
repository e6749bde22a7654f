"""The SunSpec demo site (``make demo DEVICES=sunspec``): it loads, it addresses what
``ems devices serve --config demo.yaml --port 1502`` serves, and an edge on it reads
the served battery and PV through ``driver: sunspec``."""

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
from ems.drivers.sunspec.site import ServedSite
from ems.edge.config import load_edge_config, parse_edge_config
from ems.edge.runtime import EdgeRuntime

SITES = resources.files("ems.edge.sites")
DEMO = Path(str(SITES.joinpath("demo.yaml")))
SUNSPEC_DEMO = Path(str(SITES.joinpath("demo_sunspec.yaml")))
FIRST_PORT = 1502  # the Makefile's `ems devices serve --port`
NOON_S = datetime(2026, 6, 21, 11, 0, tzinfo=UTC).timestamp()
WAIT_S = 10.0


def document(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return doc


def test_the_sunspec_demo_addresses_the_devices_serve_serves_for_the_demo_site() -> None:
    config = load_edge_config(SUNSPEC_DEMO)
    demo = load_edge_config(DEMO)
    assert config.edge_id == demo.edge_id  # the demo's users are granted this edge
    served = list(ServedSite.from_config(demo).devices)  # served in this order from 1502
    driven = {d.id: d for d in config.devices if d.driver is not None}
    assert sorted(driven) == sorted(served) == ["battery_1", "pv_1"]
    for i, device_id in enumerate(served):
        device = driven[device_id]
        assert device.driver == "sunspec"
        assert device.params["host"] == "127.0.0.1"
        assert device.params["port"] == FIRST_PORT + i
    profiles = {d.id: d.profile for d in demo.devices}
    assert all(d.profile == profiles[d.id] for d in config.devices)


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served(document(DEMO), NOON_S)
    yield s
    s.close()


def test_an_edge_on_the_sunspec_demo_site_reads_the_served_devices(served: Served) -> None:
    doc = document(SUNSPEC_DEMO)
    for device in doc["devices"]:
        if device.get("driver") == "sunspec":  # the ports the test's servers got
            device["params"]["port"] = served.ports[device["id"]]
    rt = EdgeRuntime(parse_edge_config(doc, str(SUNSPEC_DEMO)), RealClock())
    read = {"battery_1/Soc": threading.Event(), "pv_1/ActivePower": threading.Event()}

    def seen(address: str, _sample: Sample) -> None:
        if address in read:
            read[address].set()

    unwatch = rt.store.watch("", seen)

    async def run() -> bool:
        stop = asyncio.Event()
        edge = asyncio.create_task(rt.run(stop))
        ok = await asyncio.to_thread(lambda: all(e.wait(WAIT_S) for e in read.values()))
        stop.set()
        await edge
        return ok

    try:
        assert asyncio.run(run()), "the edge read nothing from the served devices"
    finally:
        unwatch()
    battery, pv = served.channels["battery_1"], served.channels["pv_1"]
    soc = rt.store.get_channel("battery_1/Soc")
    power = rt.store.get_channel("pv_1/ActivePower")
    assert soc is not None and soc.value == pytest.approx(battery["Soc"], abs=0.05)
    assert power is not None and power.value == pytest.approx(pv["ActivePower"], abs=0.5)
    assert rt.store.get_channel("battery_1/CommunicationFailed").value is False  # type: ignore[union-attr]
