"""set_controller at the edge, as cycle tables: a good command changes the controller's
behaviour from the cycle that takes it and survives a restart; a bad one is
``rejected`` with a reason code and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ems.clock import VirtualClock
from ems.edge.config import parse_edge_config
from ems.edge.controller_settings import controller_ref
from ems.edge.controller_state import CONTROLLER_STATE_FILE
from ems.edge.controllers.peak_shaving import PeakShaving, PeakShavingParams
from ems.edge.controllers.self_consumption import SelfConsumption, SelfConsumptionParams
from ems.edge.requests import CommandRequest
from ems.edge.runtime import EdgeRuntime
from ems.edge.testing import CycleHarness, devices_of
from ems.protocol import ParamSpec
from ems.timefmt import to_rfc3339

B = "battery_1"
SET = f"{B}/SetActivePower"
DEVICES = devices_of({B: "battery", "grid": "grid_meter"})
SET_CONTROLLER = "set_controller"


def site() -> CycleHarness:
    sc = SelfConsumption("sc", 10, SelfConsumptionParams(), DEVICES)
    ps = PeakShaving(
        "ps", 20, PeakShavingParams(peak_import_w=5000, recharge_below_w=2000), DEVICES
    )
    return CycleHarness([sc, ps], DEVICES)


def cycle(h: CycleHarness, grid_w: float, battery_w: float = 0.0) -> Any:
    h.advance(1)
    h.set_many(
        {
            f"{B}/Soc": 50.0,
            f"{B}/MaxChargePower": 5000.0,
            f"{B}/MaxDischargePower": 5000.0,
            f"{B}/ActivePower": battery_w,
            "grid/ActivePower": grid_w,
        }
    )
    h.cycle_once()
    return h.output(SET)


def test_a_new_self_consumption_target_applies_from_the_next_cycle() -> None:
    h = site()
    assert cycle(h, 1500) == 1500, "target 0 W: cover the whole import"
    cid = h.command("sc", SET_CONTROLLER, {"target_grid_w": 500})
    assert h.status(cid) is None, "delivered, not yet applied"
    assert cycle(h, 0, battery_w=1500) == 1000, "now the grid keeps 500 W"
    assert h.status(cid) == ("executed", None)
    assert h.output("sc/TargetGridW") == 500
    [applied] = h.executions  # in the execution log like any applied command
    assert (applied.device, applied.action, applied.value) == (
        "sc",
        SET_CONTROLLER,
        {"target_grid_w": 500},
    )


def test_self_consumption_switched_off_and_on() -> None:
    h = site()
    assert cycle(h, 1500) == 1500
    off = h.command("sc", SET_CONTROLLER, {"enabled": False})
    assert cycle(h, 1500, battery_w=1500) == 0, "off: only peak shaving, in standby"
    assert h.status(off) == ("executed", None)
    assert h.output("sc/State") == "disabled"
    assert h.output("sc/Enabled") is False
    assert cycle(h, 7000) == 2000, "peak shaving still acts alone"
    h.command("sc", SET_CONTROLLER, {"enabled": True})
    assert cycle(h, 1500) == 1500


def test_a_lower_peak_threshold_shaves_more() -> None:
    h = site()
    h.command("sc", SET_CONTROLLER, {"target_grid_w": 4000})
    assert cycle(h, 6000) == 2000, "self-consumption keeps 4 kW, within the 5 kW peak"
    h.command("ps", SET_CONTROLLER, {"peak_import_w": 3000, "recharge_below_w": 1000})
    assert cycle(h, 4000, battery_w=2000) == 3000, "peak shaving now wins: 3 kW at most"
    assert h.output("ps/State") == "shaving"
    assert h.output("ps/PeakImportW") == 3000
    assert h.output("ps/RechargeBelowW") == 1000


@pytest.mark.parametrize(
    ("controller", "changes", "reason"),
    [
        ("sc", {"deadband_w": 10}, "unknown_param"),  # a parameter, but not settable
        ("sc", {"fly": 1}, "unknown_param"),
        ("ps", {"peak_import_w": -100}, "out_of_range"),
        ("ps", {"recharge_below_w": 5000}, "invalid_params"),  # not below peak_import_w
        ("ps", {"peak_import_w": 1500}, "invalid_params"),  # now below recharge_below_w
        ("sc", {"enabled": 1}, "invalid_params"),
        ("sc", {"target_grid_w": True}, "invalid_params"),
    ],
)
def test_bad_settings_are_rejected_and_change_nothing(
    controller: str, changes: dict[str, Any], reason: str
) -> None:
    h = site()
    before = {c.id: c.params for c in h.cycle.controllers}
    cycle(h, 1500)
    cid = h.command(controller, SET_CONTROLLER, changes)
    assert cycle(h, 0, battery_w=1500) == 1500, "behaviour unchanged"
    status = h.status(cid)
    assert status == ("rejected", reason)
    assert {c.id: c.params for c in h.cycle.controllers} == before
    assert all(not c.settings for c in h.cycle.controllers)


@pytest.mark.parametrize(
    ("device", "value", "reason"),
    [
        ("nope", {"target_grid_w": 1}, "unknown_controller"),
        (B, {"target_grid_w": 1}, "unknown_controller"),  # a device is not a controller
        ("sc", 5.0, "invalid_payload"),
    ],
)
def test_the_writer_refuses_what_has_no_controller(device: str, value: Any, reason: str) -> None:
    h = site()
    verdict = h.try_command(device, SET_CONTROLLER, value)
    assert (verdict.status, verdict.reason) == ("rejected", reason)
    assert cycle(h, 1500) == 1500


def test_a_mapping_for_a_device_action_is_refused() -> None:
    verdict = site().try_command(B, "set_active_power", {"target_grid_w": 1})
    assert (verdict.status, verdict.reason) == ("rejected", "invalid_payload")


def test_the_inventory_advertises_settable_params_with_units_and_ranges() -> None:
    sc, ps = site().cycle.controllers
    assert controller_ref(sc).params == [
        ParamSpec(name="enabled", type="boolean"),
        ParamSpec(name="target_grid_w", type="number", unit="W"),
    ]
    assert controller_ref(ps).params == [
        ParamSpec(name="peak_import_w", type="number", unit="W", min=0.0),
        ParamSpec(name="recharge_below_w", type="number", unit="W", min=0.0, below="peak_import_w"),
    ]


# -- across a restart -------------------------------------------------------------
T0 = 1_780_000_000.0


def runtime(state_dir: Path, at_s: float) -> EdgeRuntime:
    config = parse_edge_config(
        {
            "edge_id": "site-s",
            "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
            "devices": [
                {"id": B, "profile": "battery", "simulator": "battery", "params": {"seed": 1}},
                {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"},
                {"id": "load", "profile": "load_meter", "simulator": "load_meter"},
            ],
            "controllers": [
                {"id": "sc", "type": "self_consumption", "priority": 10},
                {"id": "manual_override", "type": "manual_override", "priority": 100},
            ],
        }
    )
    edge = EdgeRuntime(config, VirtualClock(at_s), state_dir=state_dir)
    edge.host.tick_all()
    return edge


def set_target(edge: EdgeRuntime, cid: str, target_w: float) -> None:
    now = edge.clock.time()
    verdict = edge.requests.submit(
        CommandRequest(
            cid,
            "sc",
            SET_CONTROLLER,
            {"target_grid_w": target_w},
            to_rfc3339(now),
            to_rfc3339(now + 5),
            "test",
        )
    )
    assert verdict.status == "delivered", verdict


def target_w(edge: EdgeRuntime) -> object:
    sample = edge.store.get_channel("sc/TargetGridW")
    return None if sample is None else sample.value


def test_a_new_target_survives_a_restart(tmp_path: Path) -> None:
    first = runtime(tmp_path, T0)
    first.cycle.run_once(0)
    assert target_w(first) == 0
    set_target(first, "c1", -300)
    first.cycle.run_once(1)
    assert target_w(first) == -300
    saved = json.loads((tmp_path / CONTROLLER_STATE_FILE).read_text())
    assert saved["sc"] == {"settings": {"target_grid_w": -300}}
    second = runtime(tmp_path, T0 + 30)  # a new process over the same state dir
    assert second.controllers[0].params.target_grid_w == -300  # type: ignore[attr-defined]
    second.cycle.run_once(0)
    assert target_w(second) == -300


def test_saved_settings_the_config_no_longer_allows_are_ignored(tmp_path: Path) -> None:
    (tmp_path / CONTROLLER_STATE_FILE).write_text(
        json.dumps({"sc": {"settings": {"target_grid_w": "much"}}})
    )
    edge = runtime(tmp_path, T0)
    edge.cycle.run_once(0)
    assert target_w(edge) == 0


def test_manual_override_shows_its_mode(tmp_path: Path) -> None:
    edge = runtime(tmp_path, T0)
    edge.cycle.run_once(0)
    mode = edge.store.get_channel("manual_override/Mode")
    assert mode is not None and mode.value == "auto"
    now = edge.clock.time()
    edge.requests.submit(
        CommandRequest("m1", B, "set_mode", "manual", to_rfc3339(now), to_rfc3339(now + 5), "t")
    )
    edge.cycle.run_once(1)
    mode = edge.store.get_channel("manual_override/Mode")
    assert mode is not None and mode.value == "manual"


def test_a_newer_one_supersedes_a_pending_one() -> None:
    h = site()
    first = h.command("sc", SET_CONTROLLER, {"target_grid_w": 200})
    second = h.command("sc", SET_CONTROLLER, {"target_grid_w": 700})
    assert h.status(first) == ("failed", "superseded")
    assert cycle(h, 1500) == 800
    assert h.status(second) == ("executed", None)


def test_one_past_its_deadline_fails_expired_and_changes_nothing() -> None:
    h = site()
    cid = h.command("sc", SET_CONTROLLER, {"target_grid_w": 700}, deadline_in_s=0.6)
    h.advance(1)  # the cycle comes after the deadline less the 0.5 s drift margin
    assert cycle(h, 1500) == 1500
    assert h.status(cid) == ("failed", "expired")
    assert h.output("sc/TargetGridW") == 0


def test_a_controller_whose_hook_raises_keeps_its_parameters_and_the_cycle_runs() -> None:
    class Fragile(SelfConsumption):
        def reconfigure(self, params: Any) -> None:
            if params.target_grid_w == 666:
                raise RuntimeError("no")
            super().reconfigure(params)

    sc = Fragile("sc", 10, SelfConsumptionParams(), DEVICES)
    h = CycleHarness([sc], DEVICES)
    cid = h.command("sc", SET_CONTROLLER, {"target_grid_w": 666})
    assert cycle(h, 1500) == 1500
    assert h.status(cid) == ("failed", "controller_error")
    assert sc.params.target_grid_w == 0 and not sc.settings
