"""The time-of-use schedule as cycle tables: local-time windows take the battery;
outside them self-consumption acts; peak shaving still narrows it."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from site_loop import SET, B, battery

from ems.clock import VirtualClock
from ems.edge.controllers.base import ControllerSite
from ems.edge.controllers.peak_shaving import PeakShaving, PeakShavingParams
from ems.edge.controllers.self_consumption import SelfConsumption, SelfConsumptionParams
from ems.edge.controllers.tou_schedule import TouSchedule, TouScheduleParams
from ems.edge.testing import CycleHarness, devices_of

DEVICES = devices_of({B: "battery", "grid": "grid_meter"})
BERLIN = ZoneInfo("Europe/Berlin")
STATE = "tou/State"
WINDOW = "tou/Window"
#: Cheap night charging (past midnight), an evening discharge on weekdays, a midday hold.
WINDOWS: list[dict[str, Any]] = [
    {"from": "23:00", "to": "05:00", "action": "charge", "power_w": 3000, "until_soc_pct": 90},
    {
        "from": "17:00",
        "to": "21:00",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "action": "discharge",
        "until_soc_pct": 20,
    },
    {"from": "12:00", "to": "13:00", "action": "idle"},
]


def at(day: int, hhmm: str) -> float:
    """UTC epoch s of a local time in Berlin; day 22 June 2026 is a Monday."""
    t = dt.time.fromisoformat(hhmm)
    return dt.datetime.combine(dt.date(2026, 6, day), t, tzinfo=BERLIN).timestamp()


def tou(windows: list[dict[str, Any]] = WINDOWS, priority: int = 30) -> TouSchedule:
    params = TouScheduleParams.model_validate({"windows": windows})
    return TouSchedule("tou", priority, params, DEVICES, ControllerSite(timezone="Europe/Berlin"))


def cycle(day: int, hhmm: str, *ctrls: Any, grid_w: float = 800.0, **bat: float) -> CycleHarness:
    h = CycleHarness(list(ctrls) or [tou()], DEVICES, clock=VirtualClock(at(day, hhmm) - 1))
    h.advance(1)
    h.set_many({**battery(**bat), "grid/ActivePower": grid_w})
    h.cycle_once()
    return h


@pytest.mark.parametrize(
    ("day", "hhmm", "soc", "window", "setpoint_w", "state"),
    [
        (22, "23:30", 50.0, 0, -3000.0, "charging"),  # Monday night
        (23, "04:59", 50.0, 0, -3000.0, "charging"),  # past midnight, still Monday's window
        (23, "05:00", 50.0, -1, None, "outside_window"),
        (22, "23:30", 90.0, 0, 0.0, "at_target_soc"),
        (22, "17:00", 60.0, 1, 5000.0, "discharging"),  # the live limit: no power_w
        (22, "20:59", 20.0, 1, 0.0, "at_target_soc"),
        (27, "18:00", 60.0, -1, None, "outside_window"),  # Saturday: weekdays only
        (27, "12:30", 60.0, 2, 0.0, "idle"),
    ],
)
def test_windows_in_local_time(
    day: int, hhmm: str, soc: float, window: int, setpoint_w: float | None, state: str
) -> None:
    h = cycle(day, hhmm, soc=soc)
    assert h.output(WINDOW) == window
    assert h.output(STATE) == state
    if setpoint_w is None:
        assert h.store.get_channel(SET) is None or h.output(SET) == 0.0
    else:
        assert h.output(SET) == setpoint_w


def test_the_live_limit_caps_the_windows_power() -> None:
    h = cycle(22, "23:30", max_charge_w=1200.0)
    assert h.output(SET) == -1200.0


def test_stale_inputs_inside_a_window_idle_the_battery() -> None:
    h = cycle(22, "23:30")
    h.advance(30)
    h.cycle_once()
    assert h.output(SET) == 0.0
    assert h.output(STATE) == "stale_inputs"


def self_consumption() -> SelfConsumption:
    return SelfConsumption("sc", 10, SelfConsumptionParams(), DEVICES)


def test_outside_its_windows_self_consumption_acts() -> None:
    # 10:00 Monday: no window; the load's 800 W comes from the battery.
    h = cycle(22, "10:00", self_consumption(), tou(), grid_w=800.0)
    assert h.output(SET) == 800.0
    assert h.output(STATE) == "outside_window"


def test_inside_a_window_it_replaces_self_consumption() -> None:
    h = cycle(22, "23:30", self_consumption(), tou(), grid_w=800.0)
    assert h.output(SET) == -3000.0


def test_peak_shaving_still_narrows_it() -> None:
    # Charging 3 kW at night would lift a 4 kW import to 7 kW; peak shaving at 5 kW
    # allows charging only up to its recharge level.
    shaving = PeakShaving(
        "ps", 50, PeakShavingParams(peak_import_w=5000, recharge_below_w=4500), DEVICES
    )
    h = cycle(22, "23:30", self_consumption(), tou(), shaving, grid_w=4000.0)
    assert h.output(SET) == -500.0


@pytest.mark.parametrize(
    ("windows", "field"),
    [
        (
            [
                {"from": "01:00", "to": "03:00", "action": "charge"},
                {"from": "02:00", "to": "04:00", "action": "idle"},
            ],
            r"windows\[0\] and windows\[1\] overlap",
        ),
        (
            [
                {"from": "22:00", "to": "02:00", "action": "charge"},
                {"from": "01:00", "to": "01:30", "action": "idle", "days": ["tue"]},
            ],
            "overlap",
        ),
        ([{"from": "25:00", "to": "03:00", "action": "charge"}], "windows.0.from"),
        ([{"from": "01:00", "to": "01:00", "action": "charge"}], "empty window"),
        ([{"from": "01:00", "to": "02:00", "action": "charge", "power_w": -5}], "power_w"),
        ([{"from": "01:00", "to": "02:00", "action": "boost"}], "windows.0.action"),
        ([{"from": "01:00", "to": "02:00", "action": "idle", "days": ["monday"]}], "days"),
        ([{"from": "01:00", "to": "02:00", "action": "idle", "power_w": 100}], "power_w"),
        ([], "at least one window"),
    ],
)
def test_bad_windows_are_refused_with_the_field_named(
    windows: list[dict[str, Any]], field: str
) -> None:
    with pytest.raises(ValidationError, match=field):
        TouScheduleParams.model_validate({"windows": windows})


def test_create_hands_the_site_on_and_refuses_another_controllers_params() -> None:
    from ems.edge.controllers.base import ControllerParams

    params = TouScheduleParams.model_validate({"windows": WINDOWS})
    site = ControllerSite(timezone="Asia/Tokyo")
    built = TouSchedule.create("tou", 30, params, DEVICES, site)
    assert built.site is site
    for wrong in (ControllerParams(), SelfConsumptionParams()):
        with pytest.raises(TypeError, match="tou_schedule takes TouScheduleParams"):
            TouSchedule.create("tou", 30, wrong, DEVICES, site)
