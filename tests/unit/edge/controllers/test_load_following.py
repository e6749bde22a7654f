"""Load following as cycle tables: the grid held at a schedule of local times, or a CSV."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from site_loop import SET, B, SiteLoop, battery, sign_changes

from ems.clock import VirtualClock
from ems.edge.config import parse_edge_config
from ems.edge.controllers.base import ControllerSite
from ems.edge.controllers.load_following import LoadFollowing, LoadFollowingParams
from ems.edge.controllers.peak_shaving import PeakShaving, PeakShavingParams
from ems.edge.runtime import EdgeRuntime
from ems.edge.testing import CycleHarness, devices_of
from ems.errors import ConfigError

DEVICES = devices_of({B: "battery", "grid": "grid_meter"})
STATE = "lf/State"
TARGET = "lf/TargetGridPower"
BERLIN = ZoneInfo("Europe/Berlin")
SITE = ControllerSite(timezone="Europe/Berlin")
#: Before 07:00 hold 0 W; from 07:00 export 2 kW (a feed-in window); from 17:00 import 1 kW.
SCHEDULE = [
    {"at": "07:00", "grid_w": -2000},
    {"at": "17:00", "grid_w": 1000},
    {"at": "22:30", "grid_w": 0},
]


def at(hhmmss: str) -> float:
    """UTC epoch s of a local time in Berlin on 21 June 2026 (summer time, UTC+2)."""
    t = dt.time.fromisoformat(hhmmss)
    return dt.datetime.combine(dt.date(2026, 6, 21), t, tzinfo=BERLIN).timestamp()


def load_following(schedule: list[dict[str, Any]] = SCHEDULE, **params: Any) -> LoadFollowing:
    return LoadFollowing("lf", 10, LoadFollowingParams(schedule=schedule, **params), DEVICES, SITE)


def harness(start: str, *controllers: Any) -> CycleHarness:
    """Starts one second before ``start`` (each cycle advances the clock first)."""
    ctrls = controllers or (load_following(),)
    return CycleHarness(list(ctrls), DEVICES, clock=VirtualClock(at(start) - 1))


def cycle(h: CycleHarness, grid_w: float, **bat: float) -> Any:
    h.advance(1)
    h.set_many({**battery(**bat), "grid/ActivePower": grid_w})
    h.cycle_once()
    return h.output(SET)


# -- steady state and the schedule -------------------------------------------
def test_steady_state_holds_the_grid_at_the_scheduled_target() -> None:
    loop = SiteLoop(harness("12:00:00"))
    for _ in range(10):
        loop.step(1500)
    assert loop.h.output(TARGET) == -2000
    assert loop.battery_w == 3500, "covers the load and exports 2 kW"
    assert loop.grid_w == -2000
    assert loop.h.output(STATE) == "discharging"


@pytest.mark.parametrize(
    ("local", "target_w"),
    [
        ("06:59:59", 0),  # before the day's first step: the last step of the day before
        ("07:00:00", -2000),
        ("16:59:59", -2000),
        ("17:00:00", 1000),
        ("22:30:00", 0),
        ("23:59:59", 0),
    ],
)
def test_each_step_holds_from_its_local_time_until_the_next(local: str, target_w: float) -> None:
    h = harness(local)
    cycle(h, 500)
    assert h.output(TARGET) == target_w


def test_a_wrapping_schedule_holds_the_last_step_past_midnight() -> None:
    steps = [{"at": "07:00", "grid_w": -2000}, {"at": "17:00", "grid_w": 1000}]
    h = harness("03:00:00", load_following(steps))
    assert cycle(h, 500) == -500, "17:00's import of 1 kW holds overnight: charge 500 W"
    assert h.output(TARGET) == 1000


def test_the_virtual_clock_crosses_a_step_and_the_grid_follows() -> None:
    loop = SiteLoop(harness("06:59:00"))
    grids = []
    for _ in range(120):
        loop.step(1500)
        grids.append(loop.grid_w)
    before, after = grids[:59], grids[62:]  # 07:00:00 is the 61st cycle
    assert all(g == 0 for g in before[5:]), "held at 0 W before 07:00"
    assert all(g == -2000 for g in after), "exports 2 kW from the cycle after 07:00 on"
    assert loop.battery_w == 3500


def test_a_step_from_discharging_to_charging_changes_direction_once() -> None:
    """17:00: from exporting 2 kW to importing 1 kW with a 300 W load: the battery
    goes from discharging 2.3 kW to charging 700 W, and stays there."""
    loop = SiteLoop(harness("16:59:30"))
    powers = [loop.step(300) for _ in range(90)]
    assert powers[20] == 2300
    assert powers[-1] == -700 and loop.grid_w == 1000
    assert sign_changes(powers) == 1
    assert all(p <= 0 for p in powers[powers.index(-700) :])


def test_schedule_times_are_local_wall_clock_across_daylight_saving() -> None:
    """07:00 is 06:00 UTC in winter and 05:00 UTC in summer."""
    for day, utc_hour in ((dt.date(2026, 1, 15), 6), (dt.date(2026, 7, 15), 5)):
        seven = dt.datetime(day.year, day.month, day.day, utc_hour, tzinfo=dt.UTC).timestamp()
        h = CycleHarness([load_following()], DEVICES, clock=VirtualClock(seven - 2))
        cycle(h, 500)
        assert h.output(TARGET) == 0, day
        cycle(h, 500)
        assert h.output(TARGET) == -2000, day


# -- limits and SOC bounds -------------------------------------------------------
@pytest.mark.parametrize(
    ("grid_w", "bat", "expected_w"),
    [
        (1500, {"max_discharge_w": 3000}, 3000),  # wants 3500 to export 2 kW
        (-4000, {"max_charge_w": 1000}, -1000),  # wants 2 kW of charge
        (1500, {"max_discharge_w": 0}, 0),
    ],
)
def test_within_the_live_limits(grid_w: float, bat: dict[str, float], expected_w: float) -> None:
    assert cycle(harness("12:00:00"), grid_w, **bat) == expected_w


def test_soc_bounds_with_hysteresis() -> None:
    h = harness("12:00:00", load_following(min_soc_pct=10, max_soc_pct=90))
    assert cycle(h, 1500, soc=10) == 0, "empty enough: no discharge, not even for the target"
    assert h.output(STATE) == "at_min_soc"
    assert cycle(h, 1500, soc=11) == 0, "within the hysteresis"
    assert cycle(h, 1500, soc=12) == 3500
    h = harness("18:00:00", load_following(min_soc_pct=10, max_soc_pct=90))
    assert cycle(h, -500, soc=90) == 0, "full enough: no charge"
    assert h.output(STATE) == "at_max_soc"
    assert cycle(h, -500, soc=88) == -1500


# -- stale or missing inputs ------------------------------------------------------
def test_stale_input_idles_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    h = harness("12:00:00")
    assert cycle(h, 1500) == 3500
    h.advance(1)
    h.set_many(battery(power_w=3500))  # the grid meter stopped answering
    h.advance(15)
    h.set_many(battery(power_w=3500))
    with caplog.at_level(logging.WARNING):
        h.cycle_once()
    assert h.output(SET) == 0
    assert h.output(STATE) == "stale_inputs"
    assert "grid/ActivePower is 16 s old" in caplog.text
    assert cycle(h, 700) == 2700, "fresh again: back to the target"


def test_missing_input_idles_and_says_why() -> None:
    h = harness("12:00:00")
    h.advance(1)
    h.set("grid/ActivePower", 1000)  # no battery telemetry yet
    h.cycle_once()
    assert h.output(SET) == 0
    assert h.output(STATE) == "missing_inputs"


# -- composition -----------------------------------------------------------------
def peak_shaving(peak_import_w: float, recharge_below_w: float) -> PeakShaving:
    params = PeakShavingParams(peak_import_w=peak_import_w, recharge_below_w=recharge_below_w)
    return PeakShaving("ps", 20, params, DEVICES)


def test_peak_shaving_beats_load_following() -> None:
    # A target of 9 kW import asks to charge from the grid while the import is already
    # over the peak; peak shaving bounds it from running later at a higher priority.
    steps = [{"at": "00:00", "grid_w": 9000}]
    h = harness("12:00:00", load_following(steps), peak_shaving(5000, 2000))
    assert cycle(h, 6000) == 1000, "import 6 kW > 5 kW peak: discharge 1 kW, not charge 3 kW"
    assert h.output("ps/State") == "shaving"
    assert cycle(h, 1500) == -500, "below the peak: charge only up to the 2 kW recharge level"
    assert cycle(h, 500) == -1500


def test_load_following_works_inside_the_peak_shaving_range() -> None:
    h = harness("12:00:00", load_following(), peak_shaving(5000, 2000))
    assert cycle(h, 8000) == 5000, "exporting 2 kW would need 10 kW: the battery's 5 kW"
    assert cycle(h, 1500) == 3500, "peak shaving does not stop a discharge"


# -- the CSV source ---------------------------------------------------------------
def write_targets(folder: Path) -> None:
    rows = ["timestamp,grid_target_w", "2026-06-21T10:00:00Z,0", "2026-06-21T11:00:00Z,-3600"]
    (folder / "targets.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def site(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "edge_id": "site-1",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4, "timezone": "Europe/Berlin"},
        "devices": [{"id": B, "profile": "battery"}, {"id": "grid", "profile": "grid_meter"}],
        "controllers": [
            {"id": "manual_override", "type": "manual_override", "priority": 100},
            {"id": "lf", "type": "load_following", "priority": 10, "params": params},
        ],
    }


def test_a_csv_next_to_the_config_gives_the_target_linear_between_rows(tmp_path: Path) -> None:
    write_targets(tmp_path)
    params = {"csv": "targets.csv", "column": "grid_target_w"}
    config = parse_edge_config(site(params), config_dir=tmp_path)
    runtime = EdgeRuntime(config, VirtualClock())
    lf = next(c for c in runtime.controllers if isinstance(c, LoadFollowing))
    start_s = dt.datetime(2026, 6, 21, 10, 30, tzinfo=dt.UTC).timestamp()
    h = CycleHarness([lf], DEVICES, clock=VirtualClock(start_s - 1))
    assert cycle(h, 200) == 2000, "halfway to -3600 W: export 1800 W, cover 200 W"
    assert h.output(TARGET) == pytest.approx(-1800)
    h.advance(3600)
    assert cycle(h, 200) == 3800, "held past the last row"


# -- parameters ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"schedule": SCHEDULE, "target_grid_w": 0}, "params.target_grid_w: unknown key"),
        ({"schedule": [{"at": "7:00", "grid_w": 0}]}, "params.schedule[0].at: Value error"),
        ({"schedule": [{"at": "24:00", "grid_w": 0}]}, "'24:00' is not a local time"),
        ({"schedule": [{"at": "07:60", "grid_w": 0}]}, "params.schedule[0].at: Value error"),
        ({"schedule": [{"at": "07:00", "grid_w": "lots"}]}, "params.schedule[0].grid_w: Input"),
        ({"schedule": [{"at": "07:00", "grid_w": 0, "w": 1}]}, "params.schedule[0].w: unknown key"),
        ({"schedule": SCHEDULE[::-1]}, "params.schedule: Value error, '17:00' comes after"),
        ({"schedule": [SCHEDULE[0], SCHEDULE[0]]}, "'07:00' comes after '07:00'"),
        ({"schedule": []}, "params.schedule: Value error, give at least one step"),
        ({}, "schedule or csv: give one of the two"),
        ({"schedule": SCHEDULE, "csv": "t.csv", "column": "w"}, "schedule and csv: give one"),
        ({"csv": "t.csv"}, "column: name the csv's column"),
        ({"schedule": SCHEDULE, "deadband_w": -1}, "params.deadband_w: Input should be greater"),
    ],
)
def test_bad_params_are_refused_naming_the_field(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_edge_config(site(params))
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"csv": "missing.csv", "column": "grid_target_w"}, "params.csv: "),
        ({"csv": "targets.csv", "column": "nope"}, "targets.csv line 1: no column 'nope'"),
    ],
)
def test_a_bad_csv_stops_the_edge_at_start(
    tmp_path: Path, params: dict[str, Any], message: str
) -> None:
    write_targets(tmp_path)
    config = parse_edge_config(site(params), config_dir=tmp_path)
    with pytest.raises(ConfigError) as err:
        EdgeRuntime(config, VirtualClock())
    assert "controllers[1].params.csv: " in str(err.value)
    assert message in str(err.value)


def test_good_params_load() -> None:
    config = parse_edge_config(site({"schedule": SCHEDULE, "deadband_w": 25}))
    assert config.controllers[1].params["schedule"] == SCHEDULE
