"""The edge's clock offset to the cloud, and deadlines judged in the cloud's time.

Cycle tables on a virtual clock: the cloud's clock is ``skew`` seconds ahead
of (or behind) the edge's; the cloud's deadline is in the cloud's time. An
edge that knows the offset refuses a command whose deadline passed in cloud
time (though its own clock says there is time left) and accepts one whose
deadline has not (though its own clock says it passed).
"""

from __future__ import annotations

import pytest

from ems.edge.clocksync import ClockSample, ClockSync
from ems.edge.controllers.manual_override import ManualOverride, ManualOverrideParams
from ems.edge.testing import CycleHarness, devices_of

B = "battery_1"
SET = f"{B}/SetActivePower"
MARGIN_S = 0.5  # the harness's deadline margin


@pytest.fixture
def h() -> CycleHarness:
    devices = devices_of({B: "battery"})
    harness = CycleHarness(
        [ManualOverride("manual_override", 100, ManualOverrideParams(), devices)],
        devices,
        deadline_margin_s=MARGIN_S,
    )
    harness.set_many(
        {
            f"{B}/Soc": 50.0,
            f"{B}/MaxChargePower": 5000.0,
            f"{B}/MaxDischargePower": 5000.0,
            f"{B}/ActivePower": 0.0,
        }
    )
    return harness


def skewed(h: CycleHarness, cloud_ahead_s: float, uncertainty_s: float = 0.0) -> None:
    h.clock_sync.update(ClockSample(cloud_ahead_s, uncertainty_s))


def in_edge_terms(cloud_ahead_s: float, cloud_deadline_in_s: float) -> float:
    """A deadline ``cloud_deadline_in_s`` after the cloud's now, relative to the edge's now."""
    return cloud_ahead_s + cloud_deadline_in_s


def test_the_offset_is_the_midpoint_estimate_bounded_by_half_the_round_trip() -> None:
    sample = ClockSync.sample(sent_s=100.0, server_s=110.3, received_s=100.2)
    assert sample.offset_s == pytest.approx(10.2)
    assert sample.uncertainty_s == pytest.approx(0.1)
    sync = ClockSync()
    assert not sync.measured and sync.to_local(50.0) == 50.0
    sync.update(sample)
    assert sync.measured
    assert sync.to_local(110.3) == pytest.approx(100.1)
    # Deadline 110.3 (cloud) = 100.1 (edge); less margin 0.5 and uncertainty 0.1: 99.5.
    assert not sync.past_deadline(99.5, 110.3, 0.5)
    assert sync.past_deadline(99.51, 110.3, 0.5)


def test_an_edge_behind_the_cloud_refuses_a_command_already_past_in_cloud_time(
    h: CycleHarness,
) -> None:
    skewed(h, cloud_ahead_s=10.0)
    # The cloud's deadline passed 1 s ago; the edge's own clock would say 9 s are left.
    verdict = h.try_command(B, "set_active_power", -3000, deadline_in_s=in_edge_terms(10.0, -1.0))
    assert (verdict.status, verdict.reason) == ("failed", "expired")
    h.cycle_once()
    assert h.output(SET) == 0


def test_an_edge_ahead_of_the_cloud_accepts_a_command_still_in_time(h: CycleHarness) -> None:
    skewed(h, cloud_ahead_s=-10.0)
    # 5 s left in cloud time; by the edge's own clock it expired 5 s ago.
    cid = h.command(B, "set_active_power", -3000, deadline_in_s=in_edge_terms(-10.0, 5.0))
    h.cycle_once()
    assert h.status(cid) == ("executed", None)
    assert h.output(SET) == -3000


def test_the_controller_judges_a_pending_request_in_cloud_time(h: CycleHarness) -> None:
    skewed(h, cloud_ahead_s=10.0)
    cid = h.command(B, "set_active_power", -3000, deadline_in_s=in_edge_terms(10.0, 2.0))
    h.advance(1.6)  # past the cloud deadline less the margin; 10.4 s left on the edge's clock
    h.cycle_once()
    assert h.status(cid) == ("failed", "expired")
    assert h.output(SET) == 0


def test_the_offsets_uncertainty_widens_the_margin(h: CycleHarness) -> None:
    skewed(h, cloud_ahead_s=0.0, uncertainty_s=1.0)
    refused = h.try_command(B, "set_active_power", -3000, deadline_in_s=1.4)  # < 0.5 + 1.0
    assert (refused.status, refused.reason) == ("failed", "expired")
    cid = h.command(B, "set_active_power", -3000, deadline_in_s=1.6)
    h.cycle_once()
    assert h.status(cid) == ("executed", None)


def test_without_a_measurement_the_edge_trusts_its_own_clock(h: CycleHarness) -> None:
    cid = h.command(B, "set_active_power", -3000, deadline_in_s=0.6)
    h.cycle_once()
    assert h.status(cid) == ("executed", None)
