"""The execution log: one line per command the cycle applied, none for the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ems.edge.controllers.manual_override import ManualOverride, ManualOverrideParams
from ems.edge.executions import Execution, ExecutionLog, read_executions
from ems.edge.testing import CycleHarness, devices_of

B = "battery_1"


@pytest.fixture
def h() -> CycleHarness:
    devices = devices_of({B: "battery"})
    harness = CycleHarness([ManualOverride("mo", 100, ManualOverrideParams(), devices)], devices)
    harness.set_many(
        {f"{B}/Soc": 50.0, f"{B}/MaxChargePower": 5000.0, f"{B}/MaxDischargePower": 5000.0}
    )
    return harness


def test_an_executed_command_is_logged_once_with_what_was_applied(h: CycleHarness) -> None:
    cid = h.command(B, "set_active_power", -3000)
    h.cycle_once()
    for _ in range(3):  # holding the setpoint is not executing it again
        h.advance(1)
        h.cycle_once()
    assert h.status(cid) == ("executed", None)
    assert [(e.command_id, e.device, e.action, e.value) for e in h.executions] == [
        (cid, B, "set_active_power", -3000)
    ]
    assert h.executions[0].applied_at == pytest.approx(h.clock.time() - 3)


def test_failed_expired_and_superseded_commands_are_not_logged(h: CycleHarness) -> None:
    too_big = h.command(B, "set_active_power", -9000)  # beyond MaxChargePower
    h.cycle_once()
    assert h.status(too_big) == ("failed", "revalidation_failed")
    late = h.command(B, "set_active_power", -100, deadline_in_s=1.0)
    h.advance(2)  # past its deadline before a cycle took it
    h.cycle_once()
    assert h.status(late) == ("failed", "expired")
    old = h.command(B, "set_active_power", -200)
    new = h.command(B, "set_active_power", -300)
    h.cycle_once()
    assert h.status(old) == ("failed", "superseded")
    assert [e.command_id for e in h.executions] == [new]


def test_the_log_file_holds_whole_lines_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "edge" / "executions.jsonl"
    first = ExecutionLog(path)
    first(Execution("a", B, "set_active_power", -1000, 1_767_225_600.0))
    first.close()
    first.close()  # idempotent
    # A power cut tore the last line: it is skipped, and the next line is whole.
    with path.open("ab") as f:
        f.write(b'{"command_id":"torn","dev')
    second = ExecutionLog(path)
    second.record(Execution("b", B, "set_mode", "manual", 1_767_225_601.5))
    second.close()
    got = read_executions(path)
    assert [(e.command_id, e.value, e.applied_at) for e in got] == [
        ("a", -1000, 1_767_225_600.0),
        ("b", "manual", 1_767_225_601.5),
    ]
    assert json.loads(path.read_text().splitlines()[0])["applied_at"] == "2026-01-01T00:00:00.000Z"


def test_a_record_after_close_is_counted_not_raised(tmp_path: Path) -> None:
    log = ExecutionLog(tmp_path / "x.jsonl")
    log.close()
    log.record(Execution("a", B, "set_active_power", 1, 0.0))
    assert log.write_errors == 1
    assert read_executions(tmp_path / "x.jsonl") == []


def test_a_missing_log_reads_as_empty(tmp_path: Path) -> None:
    assert read_executions(tmp_path / "none.jsonl") == []


def test_requests_withdrawn_when_the_link_is_lost_fail_and_are_never_applied(
    h: CycleHarness,
) -> None:
    """Found by the chaos suite: a command applied while the link was down could not
    report back before the cloud's watchdog failed it (executed, yet shown failed)."""
    cid = h.command(B, "set_active_power", -1500)
    assert h.requests.withdraw_all("link_lost", "connection lost") == [cid]
    assert h.requests.withdraw_all("link_lost", "connection lost") == []  # nothing left
    h.cycle_once()
    assert h.status(cid) == ("failed", "link_lost")
    assert h.output(f"{B}/SetActivePower") == 0
    assert h.executions == []
