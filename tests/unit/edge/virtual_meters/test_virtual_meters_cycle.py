"""A controller reads a virtual meter like any input, in the very cycle it is computed."""

from __future__ import annotations

import io

import pytest

from ems.clock import VirtualClock
from ems.dal import Sample
from ems.edge.config import load_edge_config
from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, ControllerParams
from ems.edge.link.uplink import TELEMETRY_CATEGORIES
from ems.edge.runtime import EdgeRuntime
from ems.edge.simulate import simulate
from ems.edge.testing import CycleHarness, devices_of
from ems.edge.virtual_meters import VirtualMeters, plan_meters, site_channels
from ems.edge.virtual_meters.config import VirtualMeterConfig

DEVICES = devices_of({"battery_1": "battery", "pv_1": "pv_inverter", "load": "load_meter"})


class CoverNetLoad(Controller):
    """Discharges the battery by the net load a virtual meter computes; records what it saw."""

    type_name = "cover_net_load"

    def __init__(self) -> None:
        super().__init__("cover", 10, ControllerParams(), DEVICES)
        self.seen: list[Sample | None] = []

    def run(self, ctx: CycleContext) -> None:
        sample = ctx.snapshot.get("net_load/Value")
        self.seen.append(sample)
        if sample is not None and isinstance(sample.value, float):
            ctx.write("battery_1/SetActivePower", sample.value)


def harness() -> tuple[CycleHarness, CoverNetLoad]:
    meters = [
        VirtualMeterConfig(id="net_load", sum=["load/ActivePower"], minus=["pv_1/ActivePower"]),
    ]
    controller = CoverNetLoad()
    h = CycleHarness(
        [controller],
        DEVICES,
        virtual_meters=VirtualMeters(plan_meters(meters, site_channels(DEVICES))),
    )
    return h, controller


def test_the_controller_sees_this_cycles_value_and_the_store_keeps_it() -> None:
    h, controller = harness()
    h.set_many({"load/ActivePower": 2500.0, "pv_1/ActivePower": 1000.0})
    h.cycle_once()
    assert controller.seen[-1] == Sample(1500.0, h.clock.time())
    assert h.output("battery_1/SetActivePower") == 1500.0
    assert h.output("net_load/Value") == 1500.0

    h.advance(1.0)
    h.set("load/ActivePower", 3000.0)  # pv_1 stays a second old
    h.cycle_once()
    assert controller.seen[-1] == Sample(2000.0, h.clock.time() - 1.0)
    stored = h.store.get_channel("net_load/Value")
    assert stored == Sample(2000.0, h.clock.time() - 1.0), "stored with its oldest input's time"
    assert h.store.info("net_load/Value").unit == "W"


def test_a_missing_input_reaches_the_controller_as_missing() -> None:
    h, controller = harness()
    h.set("load/ActivePower", 2500.0)  # pv_1 never reported
    h.cycle_once()
    assert controller.seen[-1] == Sample(None, h.clock.time())
    assert h.output("battery_1/SetActivePower") == 0, "the profile default, not a guess"


def test_simulate_writes_a_column_per_virtual_meter() -> None:
    config = load_edge_config(None)
    config = config.model_validate(
        {
            **config.model_dump(),
            "virtual_meters": [
                {"id": "pv_kw", "unit": "kW", "sum": ["pv_1/ActivePower"], "factor": 0.001},
                {"id": "net_load", "sum": ["load/ActivePower"], "minus": ["pv_1/ActivePower"]},
            ],
        }
    )
    out = io.StringIO()
    start_s = VirtualClock().time()
    result = simulate(config, start_s, 10 / 3600, out)
    assert "pv_kw/Value" in result.columns and "net_load/Value" in result.columns
    lines = out.getvalue().splitlines()
    header = lines[0].split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=True))
        pv_w, load_w = float(row["pv_1/ActivePower"]), float(row["load/ActivePower"])
        assert float(row["pv_kw/Value"]) == pytest.approx(pv_w * 0.001, abs=1e-9)
        assert float(row["net_load/Value"]) == pytest.approx(load_w - pv_w, abs=1e-9)


def test_telemetry_carries_the_meter_with_its_own_timestamp() -> None:
    config = load_edge_config(None)
    config = config.model_validate(
        {
            **config.model_dump(),
            "virtual_meters": [{"id": "pv_total", "sum": ["pv_1/ActivePower"]}],
        }
    )
    clock = VirtualClock()
    runtime = EdgeRuntime(config, clock)
    runtime.host.tick_all()
    pv_at = clock.time()
    clock.advance(3.0)  # the PV reading is now 3 s old
    runtime.cycle.run_once(0)
    frame = runtime.store.snapshot(TELEMETRY_CATEGORIES)  # what the uplink sends each cycle
    pv = frame["pv_1/ActivePower"]
    assert frame["pv_total/Value"] == Sample(pv.value, pv_at)
