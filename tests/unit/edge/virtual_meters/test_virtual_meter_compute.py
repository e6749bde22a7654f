"""Virtual meters on a snapshot: sums, differences, scale; staleness and gaps carried through."""

from __future__ import annotations

import math

from ems.dal import Sample, Snapshot
from ems.edge.virtual_meters import MeterPlan, VirtualMeters

NOW = 1_000.0


def plan(
    meter_id: str,
    plus: tuple[str, ...] = (),
    minus: tuple[str, ...] = (),
    factor: float = 1.0,
    offset: float = 0.0,
) -> MeterPlan:
    return MeterPlan(meter_id, "W", plus, minus, factor, offset)


def snap(**channels: tuple[object, float]) -> Snapshot:
    """``pv_1__ActivePower=(value, ts)`` → ``pv_1/ActivePower``."""
    return Snapshot(
        {k.replace("__", "/"): Sample(v, ts) for k, (v, ts) in channels.items()},  # type: ignore[arg-type]
        NOW,
    )


def test_sum_difference_and_scale_with_offset() -> None:
    meters = VirtualMeters(
        [
            plan("pv_total", ("pv_1/ActivePower", "pv_2/ActivePower")),
            plan("net_load", ("load/ActivePower",), ("pv_total/Value",)),
            plan("grid_kw", ("grid/ActivePower",), factor=0.001, offset=0.5),
        ]
    )
    out = meters.compute(
        snap(
            pv_1__ActivePower=(1200.0, NOW),
            pv_2__ActivePower=(300, NOW),
            load__ActivePower=(2000.0, NOW),
            grid__ActivePower=(-1500.0, NOW),
        )
    )
    assert out["pv_total/Value"] == Sample(1500.0, NOW)
    assert out["net_load/Value"] == Sample(500.0, NOW)
    assert out["grid_kw/Value"].value == -1.0


def test_the_value_carries_the_oldest_inputs_timestamp_through_a_chain() -> None:
    meters = VirtualMeters(
        [
            plan("pv_total", ("pv_1/ActivePower", "pv_2/ActivePower")),
            plan("net_load", ("load/ActivePower",), ("pv_total/Value",)),
        ]
    )
    out = meters.compute(
        snap(
            pv_1__ActivePower=(1000.0, NOW),
            pv_2__ActivePower=(500.0, NOW - 30),  # a device that stopped answering
            load__ActivePower=(2000.0, NOW - 1),
        )
    )
    assert out["pv_total/Value"].ts == NOW - 30
    assert out["net_load/Value"].ts == NOW - 30, "staleness reaches the meter that reads a meter"


def test_a_missing_input_makes_the_value_missing_not_zero() -> None:
    meters = VirtualMeters(
        [
            plan("pv_total", ("pv_1/ActivePower", "pv_2/ActivePower")),
            plan("net_load", ("load/ActivePower",), ("pv_total/Value",)),
            plan("load_only", ("load/ActivePower",)),
        ]
    )
    for pv_2 in (None, (None, NOW), ("offline", NOW), (True, NOW), (math.nan, NOW)):
        channels = {"pv_1__ActivePower": (1000.0, NOW), "load__ActivePower": (2000.0, NOW)}
        if pv_2 is not None:
            channels["pv_2__ActivePower"] = pv_2
        out = meters.compute(snap(**channels))  # type: ignore[arg-type]
        assert out["pv_total/Value"] == Sample(None, NOW), pv_2
        assert out["net_load/Value"] == Sample(None, NOW), pv_2
        assert out["load_only/Value"] == Sample(2000.0, NOW)


def test_no_meters_compute_nothing() -> None:
    assert VirtualMeters([]).compute(snap()) == {}
