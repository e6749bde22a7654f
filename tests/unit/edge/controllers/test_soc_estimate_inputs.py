"""Controllers read a battery's SocEstimate in place of its Soc while the estimate is
fresh (DESIGN 17), as a cycle table through the time-of-use schedule."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from site_loop import SET, B, battery

from ems.clock import VirtualClock
from ems.edge.controllers.base import ControllerSite
from ems.edge.controllers.tou_schedule import TouSchedule, TouScheduleParams
from ems.edge.testing import CycleHarness, devices_of

DEVICES = devices_of({B: "battery", "grid": "grid_meter"})
NIGHT = dt.datetime(2026, 6, 22, 23, 30, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
CHARGE_TO_90 = [
    {"from": "23:00", "to": "05:00", "action": "charge", "power_w": 3000, "until_soc_pct": 90}
]


def harness() -> CycleHarness:
    params = TouScheduleParams.model_validate({"windows": CHARGE_TO_90})
    ctrl = TouSchedule("tou", 30, params, DEVICES, ControllerSite(timezone="Europe/Berlin"))
    h = CycleHarness([ctrl], DEVICES, clock=VirtualClock(NIGHT))
    h.set_many({**battery(soc=95.0), "grid/ActivePower": 500.0})  # the BMS's count: "full"
    return h


def test_without_an_estimate_the_bms_soc_decides() -> None:
    h = harness()
    h.cycle_once()
    assert h.output("tou/State") == "at_target_soc"
    assert h.output(SET) == 0.0


def test_a_fresh_estimate_is_used_in_place_of_the_bms_soc() -> None:
    h = harness()
    h.set(f"{B}/SocEstimate", 60.0)  # the estimator knows the count drifted
    h.cycle_once()
    assert h.output("tou/State") == "charging"
    assert h.output(SET) == -3000.0


def test_a_stale_estimate_falls_back_to_the_bms_soc() -> None:
    h = harness()
    h.set(f"{B}/SocEstimate", 60.0)
    h.advance(30)  # the estimate stops; the BMS goes on
    h.set_many({**battery(soc=95.0), "grid/ActivePower": 500.0})
    h.cycle_once()
    assert h.output("tou/State") == "at_target_soc"
