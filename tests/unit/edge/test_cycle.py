"""The cycle on a virtual clock: deadlines, overruns, priority, isolation."""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

import pytest

from ems.clock import VirtualClock
from ems.dal import ChannelStore, Snapshot
from ems.edge.context import Ack, CycleContext
from ems.edge.controllers.base import Controller, ControllerParams
from ems.edge.controllers.manual_override import ManualOverride, ManualOverrideParams
from ems.edge.cycle import EdgeCycle
from ems.edge.testing import CycleHarness, devices_of

B = "battery_1"
SET = f"{B}/SetActivePower"
DEVICES = devices_of(
    {B: "battery", "pv_1": "pv_inverter", "grid": "grid_meter", "load": "load_meter"}
)


class Writes(Controller):
    """Writes a fixed value; records the order it ran in."""

    type_name: ClassVar[str] = "test_writes"
    order: ClassVar[list[str]] = []

    def __init__(
        self,
        cid: str,
        priority: int,
        value: float,
        busy_s: float = 0.0,
        clock: VirtualClock | None = None,
    ) -> None:
        super().__init__(cid, priority, ControllerParams(), DEVICES)
        self.value = value
        self.busy_s = busy_s
        self.clock = clock

    def run(self, ctx: CycleContext) -> None:
        Writes.order.append(self.id)
        if self.busy_s and self.clock is not None:
            self.clock.advance(self.busy_s)  # stands in for a slow computation
        ctx.write(SET, self.value)


class Raises(Controller):
    type_name: ClassVar[str] = "test_raises"

    def __init__(self, cid: str, priority: int, serve: bool = False) -> None:
        super().__init__(cid, priority, ControllerParams(), DEVICES)
        self.serve = serve

    def request_channels(self) -> list[str]:
        return [f"ui_requests/{B}_power"] if self.serve else []

    def run(self, ctx: CycleContext) -> None:
        ctx.write(SET, 999.0)
        raise RuntimeError("boom")


class Ignores(Controller):
    """Serves a request channel but never answers: the cycle must."""

    type_name: ClassVar[str] = "test_ignores"

    def request_channels(self) -> list[str]:
        return [f"ui_requests/{B}_power"]

    def run(self, ctx: CycleContext) -> None:
        pass


@pytest.fixture(autouse=True)
def _reset_order() -> None:
    Writes.order.clear()


def test_priority_order_and_last_write_wins() -> None:
    h = CycleHarness([Writes("high", 90, -100.0), Writes("low", 10, 200.0)], DEVICES)
    h.cycle_once()
    assert Writes.order == ["low", "high"], "lowest priority runs first"
    assert h.output(SET) == -100.0, "the most important (last) write wins"


def test_equal_priorities_keep_configured_order() -> None:
    h = CycleHarness([Writes("a", 5, 1.0), Writes("b", 5, 2.0)], DEVICES)
    h.cycle_once()
    assert Writes.order == ["a", "b"]
    assert h.output(SET) == 2.0


def test_raising_controller_is_skipped_and_its_writes_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = CycleHarness([Writes("ok", 10, 300.0), Raises("bad", 50)], DEVICES)
    with caplog.at_level(logging.ERROR):
        h.cycle_once()
    assert h.output(SET) == 300.0
    assert h.cycle.stats.controller_errors == 1
    assert h.output("_cycle/ControllerErrors") == 1
    assert "controller bad raised" in caplog.text


def test_raising_controller_fails_the_requests_it_took(caplog: pytest.LogCaptureFixture) -> None:
    h = CycleHarness([Raises("bad", 50, serve=True)], DEVICES)
    cid = h.command(B, "set_active_power", 100)
    with caplog.at_level(logging.CRITICAL):
        h.cycle_once()
    assert h.status(cid) == ("failed", "controller_error")


def test_unanswered_request_gets_a_final_status() -> None:
    h = CycleHarness([Ignores("mute", 10, ControllerParams(), DEVICES)], DEVICES)
    cid = h.command(B, "set_active_power", 100)
    h.cycle_once()
    assert h.status(cid) == ("failed", "not_handled")


def test_unwritten_outputs_fall_back_to_their_default() -> None:
    h = CycleHarness([], DEVICES)
    h.store.set_channel(SET, -500.0)
    h.cycle_once()
    assert h.output(SET) == 0
    assert h.output("pv_1/SetActivePowerLimit") is None


def test_site_totals_are_computed_from_the_snapshot() -> None:
    h = CycleHarness([], DEVICES)
    h.set_many(
        {
            f"{B}/ActivePower": -1000.0,
            f"{B}/Soc": 40.0,
            f"{B}/Capacity": 10000.0,
            "pv_1/ActivePower": 3000.0,
            "grid/ActivePower": -500.0,
            "load/ActivePower": 2500.0,
        }
    )
    h.cycle_once()
    assert h.output("_sum/ConsumptionActivePower") == 1500.0  # -500 + 3000 - 1000
    assert h.output("_sum/ProductionActivePower") == 3000.0
    assert h.output("_sum/EssSoc") == 40.0


def test_the_site_soc_is_the_estimate_while_it_keeps_up_with_the_bms() -> None:
    h = CycleHarness([], DEVICES)
    h.set_many({f"{B}/Soc": 40.0, f"{B}/SocEstimate": 55.0, f"{B}/Capacity": 10000.0})
    h.cycle_once()
    assert h.output("_sum/EssSoc") == 55.0
    h.advance(5)
    h.set(f"{B}/Soc", 41.0)  # the BMS goes on, the estimate stopped
    h.cycle_once()
    assert h.output("_sum/EssSoc") == 41.0


def test_request_replaced_after_the_snapshot_is_not_executed() -> None:
    """Writer and cycle race: exactly one final status for each command."""
    h = CycleHarness([ManualOverride("mo", 100, ManualOverrideParams(), DEVICES)], DEVICES)
    h.set_many({f"{B}/MaxChargePower": 5000.0, f"{B}/MaxDischargePower": 5000.0})
    a = h.command(B, "set_active_power", -1000)
    real_snapshot = h.store.snapshot
    replaced: list[str] = []

    def snapshot_then_replace(*args: object, **kw: object) -> Snapshot:
        snap = real_snapshot()
        if not replaced:  # the dispatcher writes B right after the cycle's snapshot
            replaced.append(h.command(B, "set_active_power", -2000))
        return snap

    h.store.snapshot = snapshot_then_replace  # type: ignore[method-assign]
    h.cycle_once()
    h.store.snapshot = real_snapshot  # type: ignore[method-assign]
    b = replaced[0]
    assert h.status(a) == ("failed", "superseded")
    assert h.status(b) is None, "B waits for the next cycle"
    assert h.output(SET) == 0, "A was not applied"
    h.cycle_once()
    assert h.status(b) == ("executed", None)
    assert h.output(SET) == -2000


async def _run_cycles(cycle: EdgeCycle, clock: VirtualClock, seconds: float) -> None:
    task = asyncio.create_task(cycle.run(max_cycles=None))
    await clock.advance_async(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.asyncio
async def test_cycles_start_on_absolute_deadlines() -> None:
    clock = VirtualClock()
    store = ChannelStore(clock)
    starts: list[float] = []

    class Probe(Controller):
        type_name: ClassVar[str] = "probe"

        def run(self, ctx: CycleContext) -> None:
            starts.append(clock.monotonic())
            clock.advance(0.03)  # each cycle takes 30 ms; must not accumulate

    cycle = EdgeCycle(store, clock, [Probe("p", 1, ControllerParams(), {})], {}, period_s=0.1)
    await _run_cycles(cycle, clock, 10.0)
    assert len(starts) == 101
    assert starts == pytest.approx([k * 0.1 for k in range(101)], abs=1e-9)
    assert cycle.stats.overruns == 0
    assert store.get_channel("_cycle/Index").value == 100  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_overrun_resumes_at_next_future_deadline_and_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    store = ChannelStore(clock)
    starts: list[float] = []
    slow_cycles = {3}

    class Slow(Controller):
        type_name: ClassVar[str] = "slow"

        def run(self, ctx: CycleContext) -> None:
            starts.append(clock.monotonic())
            if ctx.index in slow_cycles:
                clock.advance(0.35)  # 3.5 periods

    cycle = EdgeCycle(store, clock, [Slow("s", 1, ControllerParams(), {})], {}, period_s=0.1)
    with caplog.at_level(logging.WARNING):
        await _run_cycles(cycle, clock, 1.0)
    # Cycle 3 starts at 0.3 and ends at 0.65: deadlines 0.4, 0.5, 0.6 are skipped.
    assert starts[:5] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.7])
    assert cycle.stats.overruns == 1
    assert cycle.stats.skipped == 3
    assert store.get_channel("_cycle/Overruns").value == 1  # type: ignore[union-attr]
    assert "overran" in caplog.text


@pytest.mark.asyncio
async def test_stop_event_ends_the_loop() -> None:
    clock = VirtualClock()
    cycle = EdgeCycle(ChannelStore(clock), clock, [], {}, period_s=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(cycle.run(stop))
    await clock.advance_async(2.0)
    stop.set()
    await clock.advance_async(1.0)
    await asyncio.wait_for(task, timeout=5)
    assert cycle.stats.cycles == 3


def test_jitter_is_reported() -> None:
    clock = VirtualClock()
    store = ChannelStore(clock)
    cycle = EdgeCycle(store, clock, [], {}, period_s=1.0)
    cycle.run_once(0, jitter_s=0.0042)
    assert store.get_channel("_cycle/JitterMs").value == pytest.approx(4.2)  # type: ignore[union-attr]


def test_ack_shape() -> None:
    assert Ack("ack/battery_1_power", "c1", "failed", "expired", "late").value("t") == {
        "command_id": "c1",
        "status": "failed",
        "reason": "expired",
        "detail": "late",
        "at": "t",
    }
