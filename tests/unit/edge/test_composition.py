"""Composition within a cycle: narrowing binds staged values and later writes; a pin wins."""

from __future__ import annotations

import logging

import pytest

from ems.edge.context import CycleContext
from ems.edge.controllers.base import Controller, ControllerParams
from ems.edge.controllers.manual_override import ManualOverride, ManualOverrideParams
from ems.edge.ranges import Range
from ems.edge.testing import CycleHarness, devices_of

B = "battery_1"
SET = f"{B}/SetActivePower"
DEVICES = devices_of({B: "battery", "grid": "grid_meter"})


class Writes(Controller):
    type_name = "test_writes"

    def __init__(self, cid: str, priority: int, value: float) -> None:
        super().__init__(cid, priority, ControllerParams(), DEVICES)
        self.value = value

    def run(self, ctx: CycleContext) -> None:
        ctx.write(SET, self.value)


class Narrows(Controller):
    type_name = "test_narrows"

    def __init__(
        self, cid: str, priority: int, lo: float | None, hi: float | None, write: float | None
    ) -> None:
        super().__init__(cid, priority, ControllerParams(), DEVICES)
        self.lo, self.hi, self.value = lo, hi, write

    def run(self, ctx: CycleContext) -> None:
        ctx.narrow(SET, f"{self.id} bound", min=self.lo, max=self.hi)
        if self.value is not None:
            ctx.write(SET, self.value)


def run(*controllers: Controller) -> tuple[CycleHarness, object]:
    h = CycleHarness(list(controllers), DEVICES)
    h.set_many({f"{B}/MaxChargePower": 5000.0, f"{B}/MaxDischargePower": 5000.0})
    writes = h.cycle_once()
    return h, writes


def test_a_narrowing_clamps_what_less_important_controllers_wrote() -> None:
    h, _ = run(Writes("low", 10, -3000), Narrows("high", 20, 1000, None, None))
    assert h.output(SET) == 1000


def test_later_writes_are_clamped_into_the_range() -> None:
    h, _ = run(Narrows("first", 10, None, 500, None), Writes("later", 20, 4000))
    assert h.output(SET) == 500


def test_a_value_inside_the_range_is_left_alone_and_last_write_still_wins() -> None:
    h, _ = run(Narrows("n", 10, -2000, 2000, None), Writes("a", 20, -700), Writes("b", 30, 300))
    assert h.output(SET) == 300


def test_narrowings_intersect_and_the_newer_wins_a_conflict() -> None:
    h, _ = run(Narrows("a", 10, -1000, 1000, None), Narrows("b", 20, 500, None, None))
    assert h.output(SET) == 500, "the default 0 W is clamped into [500, 1000]"
    h, _ = run(Narrows("a", 10, None, -1000, None), Narrows("b", 20, 500, None, None))
    assert h.output(SET) == 500, "no overlap: the more important range replaces the other"


def test_nobody_writes_the_default_is_clamped() -> None:
    h, _ = run(Narrows("n", 10, 1200, None, None))
    assert h.output(SET) == 1200


def test_a_clamp_is_recorded_with_who_and_why_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="ems.edge.context"):
        _, writes = run(Writes("sc", 10, -3000), Narrows("ps", 20, 1000, None, None))
    (clamp,) = writes.clamps  # type: ignore[attr-defined]
    assert (clamp.address, clamp.wanted, clamp.applied) == (SET, -3000, 1000)
    assert clamp.range.by == "ps" and clamp.range.reason == "ps bound"
    assert "-3000 clamped to 1000 by ps" in caplog.text


def test_a_raising_controller_leaves_no_narrowing_behind() -> None:
    class NarrowsThenRaises(Narrows):
        def run(self, ctx: CycleContext) -> None:
            super().run(ctx)
            raise RuntimeError("boom")

    h, _ = run(NarrowsThenRaises("bad", 10, 2000, None, None), Writes("w", 5, -100))
    assert h.output(SET) == -100


def test_manual_mode_pins_the_output_whatever_was_narrowed() -> None:
    manual = ManualOverride("manual_override", 100, ManualOverrideParams(), DEVICES)
    h = CycleHarness([Narrows("ps", 50, 3000, None, 3000), manual], DEVICES)
    h.set_many({f"{B}/MaxChargePower": 5000.0, f"{B}/MaxDischargePower": 5000.0})
    h.command(B, "set_active_power", -2000)
    h.cycle_once()
    assert h.output(SET) == -2000, "the operator's hold beats the narrowing"
    h.command(B, "set_mode", "auto")
    h.advance(1)
    h.cycle_once()
    assert h.output(SET) == 3000, "released: the automatic controller has the battery"


def test_range_refuses_an_empty_range() -> None:
    with pytest.raises(ValueError, match="empty range"):
        Range(10, -10, "x", "y")
