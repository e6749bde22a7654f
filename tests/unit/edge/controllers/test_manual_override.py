"""Manual override as cycle tables: advance time, set inputs, expect outputs and acks."""

from __future__ import annotations

import pytest

from ems.edge.controllers.manual_override import ManualOverride, ManualOverrideParams
from ems.edge.testing import CycleHarness, devices_of

B = "battery_1"
SET = f"{B}/SetActivePower"


def battery(soc: float = 50.0, max_charge: float = 5000.0, max_discharge: float = 5000.0) -> dict:
    return {
        f"{B}/Soc": soc,
        f"{B}/MaxChargePower": max_charge,
        f"{B}/MaxDischargePower": max_discharge,
        f"{B}/ActivePower": 0.0,
    }


@pytest.fixture
def h() -> CycleHarness:
    devices = devices_of({B: "battery", "pv_1": "pv_inverter", "grid": "grid_meter"})
    ctrl = ManualOverride("manual_override", 100, ManualOverrideParams(), devices)
    harness = CycleHarness([ctrl], devices)
    harness.set_many(battery())
    return harness


def test_no_command_leaves_the_default(h: CycleHarness) -> None:
    h.cycle_once()
    assert h.output(SET) == 0
    assert h.acks == []


def test_executes_and_holds_a_setpoint(h: CycleHarness) -> None:
    cid = h.command(B, "set_active_power", -3000)
    h.cycle_once()
    assert h.output(SET) == -3000
    assert h.status(cid) == ("executed", None)
    assert h.output(f"ui_requests/{B}_power") is None, "request cleared"
    for _ in range(5):  # held every cycle, no second ack
        h.advance(1)
        h.set_many(battery())
        h.cycle_once()
        assert h.output(SET) == -3000
    assert len(h.acks_for(cid)) == 1


def test_hold_is_clamped_to_current_limits(h: CycleHarness) -> None:
    h.command(B, "set_active_power", -4000)
    h.cycle_once()
    assert h.output(SET) == -4000
    # Battery nearly full: it now accepts only 1200 W, then nothing.
    h.advance(1)
    h.set_many(battery(soc=94, max_charge=1200))
    h.cycle_once()
    assert h.output(SET) == -1200
    h.advance(1)
    h.set_many(battery(soc=95, max_charge=0))
    h.cycle_once()
    assert h.output(SET) == 0
    # Room again: the held setpoint comes back.
    h.advance(1)
    h.set_many(battery(soc=90, max_charge=5000))
    h.cycle_once()
    assert h.output(SET) == -4000


def test_hold_idles_when_limits_go_stale(h: CycleHarness) -> None:
    h.command(B, "set_active_power", 2500)
    h.cycle_once()
    assert h.output(SET) == 2500
    h.advance(31)  # telemetry not refreshed for longer than max_age_s (30 s)
    h.cycle_once()
    assert h.output(SET) == 0


@pytest.mark.parametrize(
    ("limits", "value", "detail"),
    [
        (battery(max_charge=2000), -3000, "exceeds_dynamic_limit"),
        (battery(max_discharge=0), 100, "exceeds_dynamic_limit"),
        (battery(), 2_000_000, "out_of_range"),
    ],
)
def test_revalidation_failure(h: CycleHarness, limits: dict, value: float, detail: str) -> None:
    h.set_many(limits)
    cid = h.command(B, "set_active_power", value)
    h.cycle_once()
    status, reason = h.status(cid) or ("", "")
    assert (status, reason) == ("failed", "revalidation_failed")
    assert detail in h.acks_for(cid)[0]["detail"]
    assert h.output(SET) == 0, "a failed command is not applied"


def test_revalidation_fails_on_stale_telemetry(h: CycleHarness) -> None:
    h.advance(40)
    cid = h.command(B, "set_active_power", -1000)
    h.cycle_once()
    assert h.status(cid) == ("failed", "revalidation_failed")
    assert "stale_telemetry" in h.acks_for(cid)[0]["detail"]
    assert h.output(SET) == 0


def test_failed_command_keeps_the_previous_hold(h: CycleHarness) -> None:
    h.command(B, "set_active_power", -1000)
    h.cycle_once()
    h.set_many(battery(max_charge=2000))
    bad = h.command(B, "set_active_power", -3000)
    h.cycle_once()
    assert h.status(bad) == ("failed", "revalidation_failed")
    assert h.output(SET) == -1000


def test_newer_command_replaces_the_hold(h: CycleHarness) -> None:
    a = h.command(B, "set_active_power", -1000)
    h.cycle_once()
    b = h.command(B, "set_active_power", 1500)
    h.cycle_once()
    assert h.status(a) == ("executed", None)
    assert h.status(b) == ("executed", None)
    assert h.output(SET) == 1500


def test_superseded_before_a_cycle_consumed_it(h: CycleHarness) -> None:
    a = h.command(B, "set_active_power", -1000)
    b = h.command(B, "set_active_power", -2000)
    assert h.status(a) == ("failed", "superseded")
    h.cycle_once()
    assert h.status(b) == ("executed", None)
    assert h.status(a) == ("failed", "superseded"), "exactly one final status"
    assert h.output(SET) == -2000


def test_expired_is_never_applied(h: CycleHarness) -> None:
    cid = h.command(B, "set_active_power", -3000, deadline_in_s=5.0)
    h.advance(4.6)  # past deadline less the 0.5 s margin; e.g. the edge was frozen
    h.set_many(battery())
    h.cycle_once()
    assert h.status(cid) == ("failed", "expired")
    assert h.output(SET) == 0


def test_writer_refuses_an_already_expired_command(h: CycleHarness) -> None:
    verdict = h.try_command(B, "set_active_power", -3000, deadline_in_s=0.2)
    assert (verdict.status, verdict.reason) == ("failed", "expired")
    h.cycle_once()
    assert h.output(SET) == 0


def test_release_with_auto_mode(h: CycleHarness) -> None:
    h.command(B, "set_active_power", -3000)
    h.cycle_once()
    assert h.output(SET) == -3000
    cid = h.command(B, "set_mode", "auto")
    h.cycle_once()
    assert h.status(cid) == ("executed", None)
    assert h.output(SET) == 0, "released: back to the profile default"
    h.advance(1)
    h.set_many(battery())
    h.cycle_once()
    assert h.output(SET) == 0


def test_manual_mode_holds_idle(h: CycleHarness) -> None:
    ctrl = h.cycle.controllers[0]
    assert isinstance(ctrl, ManualOverride)
    cid = h.command(B, "set_mode", "manual")
    h.cycle_once()
    assert h.status(cid) == ("executed", None)
    assert ctrl.held(B) == {}
    assert h.output(SET) == 0


def test_bad_mode_value_fails_revalidation(h: CycleHarness) -> None:
    cid = h.command(B, "set_mode", "turbo")
    h.cycle_once()
    assert h.status(cid) == ("failed", "revalidation_failed")


def test_pv_curtailment_is_a_separate_hold(h: CycleHarness) -> None:
    h.command("pv_1", "set_active_power_limit", 3000)
    h.command(B, "set_active_power", 500)
    h.cycle_once()
    assert h.output("pv_1/SetActivePowerLimit") == 3000
    assert h.output(SET) == 500


def test_controller_only_serves_configured_devices() -> None:
    devices = devices_of({B: "battery", "battery_2": "battery"})
    ctrl = ManualOverride("mo", 100, ManualOverrideParams(devices=[B]), devices)
    assert all(a.startswith(f"ui_requests/{B}_") for a in ctrl.request_channels())
    with pytest.raises(ValueError, match="unknown devices"):
        ManualOverride("mo", 100, ManualOverrideParams(devices=["nope_1"]), devices)
