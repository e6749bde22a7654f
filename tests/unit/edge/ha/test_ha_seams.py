"""The runtime's HA seams: a follower's cycle decides and writes nothing, and a driver
thread withholds a write the moment the lease is gone."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from ems.clock import VirtualClock
from ems.dal import ChannelStore, Value
from ems.drivers.base import Driver, DriverConfig, DriverContext, Reading
from ems.drivers.host import DriverRunner
from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, ControllerParams
from ems.edge.cycle import EdgeCycle
from ems.edge.ha.lease import LocalLease
from ems.edge.runtime import declare_device_channels
from ems.edge.testing import devices_of

B = "battery_1"
SET = f"{B}/SetActivePower"
DEVICES = devices_of({B: "battery"})


class Writes(Controller):
    type_name: ClassVar[str] = "test_ha_writes"

    def __init__(self) -> None:
        super().__init__("writes", 10, ControllerParams(), DEVICES)
        self.runs = 0

    def run(self, ctx: CycleContext) -> None:
        self.runs += 1
        ctx.write(SET, -1234.0)


class Gate:
    def __init__(self) -> None:
        self.open = False

    def may_control(self) -> bool:
        return self.open

    def may_write(self) -> bool:
        return self.open


def test_a_follower_cycle_runs_no_controller_and_writes_no_output() -> None:
    clock = VirtualClock()
    store = ChannelStore(clock)
    declare_device_channels(store, DEVICES)
    controller = Writes()
    gate = Gate()
    cycle = EdgeCycle(store, clock, [controller], DEVICES, gate=gate)
    cycle.run_once(0)
    assert controller.runs == 0
    assert store.get_channel(SET) is None
    assert store.get_channel("_cycle/Index") is not None  # the cycle itself still ticks
    gate.open = True
    cycle.run_once(1)
    assert controller.runs == 1
    sample = store.get_channel(SET)
    assert sample is not None and sample.value == -1234.0


class Recorder(Driver):
    type_name: ClassVar[str] = "test_ha_recorder"

    def __init__(self) -> None:
        super().__init__(B, DriverConfig(), DEVICES[B], DriverContext())
        self.written: list[tuple[str, Value]] = []

    def read(self) -> Reading:
        return Reading()

    def write(self, channel: str, value: Value) -> None:
        self.written.append((channel, value))

    def writable(self) -> frozenset[str]:
        return frozenset({"SetActivePower"})


def test_a_driver_withholds_a_queued_write_once_the_lease_ran_out() -> None:
    clock = VirtualClock()
    store = ChannelStore(clock)
    declare_device_channels(store, DEVICES)
    lease = LocalLease(clock.monotonic, lease_s=1.0, write_guard_s=0.3)
    lease.granted(clock.monotonic(), token=1)
    lease.enable()
    driver = Recorder()
    runner = DriverRunner(driver, store, clock, may_write=lease.may_write)
    runner.submit({"SetActivePower": -500.0}, {"SetActivePower": ["c1"]})
    runner.flush_writes()
    assert driver.written == [("SetActivePower", -500.0)]
    # Queued while in control, flushed after a stall past the lease: withheld.
    runner.submit({"SetActivePower": -600.0}, {"SetActivePower": ["c2"]})
    clock.advance(0.8)
    runner.flush_writes()
    assert driver.written == [("SetActivePower", -500.0)]
    assert runner.fenced == 1
    outcomes = {o.command_id: (o.ok, o.reason) for o in runner.outcomes()}
    assert outcomes == {"c1": (True, None), "c2": (False, "not_leader")}


@pytest.mark.asyncio
async def test_run_now_starts_a_cycle_at_once_and_counts_the_next_from_it() -> None:
    clock = VirtualClock()
    store = ChannelStore(clock)
    declare_device_channels(store, DEVICES)
    controller = Writes()
    gate = Gate()
    gate.open = True
    cycle = EdgeCycle(store, clock, [controller], DEVICES, gate=gate)
    stop = asyncio.Event()
    task = asyncio.create_task(cycle.run(stop))
    await clock.advance_async(0.0)
    assert controller.runs == 1  # cycle 0 at t=0
    await clock.advance_async(0.3)
    cycle.run_now()
    await clock.advance_async(0.0)
    assert controller.runs == 2  # at 0.3 s, not at 1.0 s
    await clock.advance_async(0.9)
    assert controller.runs == 2  # 1.2 s: the next is due at 1.3 s
    await clock.advance_async(0.1)
    assert controller.runs == 3
    stop.set()
    await clock.advance_async(1.0)
    await asyncio.wait_for(task, 5)
