"""The execution log: one line per command the cycle applied, none for the rest."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ems.clock import VirtualClock
from ems.edge.connected import open_command_record
from ems.edge.controllers.manual_override import ManualOverride, ManualOverrideParams
from ems.edge.executions import Execution, ExecutionLog, read_executions
from ems.edge.link import AckOutbox, CommandDispatcher
from ems.edge.requests import CommandRequest, Verdict
from ems.edge.testing import CycleHarness, devices_of
from ems.protocol import CloudToEdgeCommand

B = "battery_1"
T0 = 1_767_225_600.0  # VirtualClock's default start: 2026-01-01T00:00:00Z


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


# -- rotation ----------------------------------------------------------------------
def _execution(n: int, at_s: float, command_id: str | None = None) -> Execution:
    """Execution number ``n``; every line has the same length while ``n`` < 10,000."""
    return Execution(command_id or f"cmd-{n:04d}", B, "set_active_power", -1000, at_s)


def _line_bytes(tmp_path: Path) -> int:
    probe = tmp_path / "probe" / "executions.jsonl"
    log = ExecutionLog(probe)
    log.record(_execution(0, T0))
    log.close()
    return probe.stat().st_size


def _files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def test_the_live_file_is_rotated_when_it_reaches_max_bytes(tmp_path: Path) -> None:
    line = _line_bytes(tmp_path)
    path = tmp_path / "edge" / "executions.jsonl"
    log = ExecutionLog(path, max_bytes=10 * line, keep_files=3, clock=VirtualClock())
    written = []
    for n in range(9):
        written.append(_execution(n, T0 + n))
        log.record(written[-1])
        log.sync()
    assert _files(path) == ["executions.jsonl"]  # 9 lines: below max_bytes
    written.append(_execution(9, T0 + 9))
    log.record(written[-1])
    log.sync()
    assert _files(path) == ["executions.1.jsonl", "executions.jsonl"]
    assert path.stat().st_size == 0
    assert (path.parent / "executions.1.jsonl").stat().st_size == 10 * line
    written.append(_execution(10, T0 + 10))
    log.record(written[-1])
    log.close()
    assert log.rotations == 1
    assert read_executions(path) == written  # every file, oldest first


def test_at_most_keep_files_are_kept_and_lines_past_the_redelivery_window_go(
    tmp_path: Path,
) -> None:
    line = _line_bytes(tmp_path)
    clock = VirtualClock()
    path = tmp_path / "edge" / "executions.jsonl"
    log = ExecutionLog(path, max_bytes=4 * line, keep_files=3, keep_s=3600.0, clock=clock)
    for n in range(100):
        log.record(_execution(n, clock.time()))
        log.sync()
        assert len(_files(path)) <= 3
        clock.advance(600.0)  # a command every 10 min: only the last 6 are still needed
    log.close()
    assert _files(path) == ["executions.24.jsonl", "executions.25.jsonl", "executions.jsonl"]
    got = [e.command_id for e in read_executions(path)]
    assert got == [f"cmd-{n:04d}" for n in range(92, 100)]  # two segments of 4, none carried
    assert log.lines_carried == 0


def test_a_command_executed_before_rotations_is_still_known_after_a_restart(
    tmp_path: Path,
) -> None:
    """The ids the cloud may still deliver again outlive the file they were written to:
    they are carried forward, and a restarted edge that lost its record of commands
    taken (a damaged file moved aside) still answers them from the execution log."""
    line = _line_bytes(tmp_path)
    clock = VirtualClock()
    path = tmp_path / "edge" / "executions.jsonl"
    log = ExecutionLog(path, max_bytes=3 * line, keep_files=2, clock=clock)
    first = str(uuid.uuid4())
    log.record(_execution(0, clock.time(), command_id=first))
    for n in range(1, 40):  # 13 rotations: the first line's own file is long gone
        clock.advance(60.0)
        log.record(_execution(n, clock.time()))
        log.sync()
        assert len(_files(path)) <= 2
    log.close()
    assert log.rotations == 13
    assert first in [e.command_id for e in read_executions(path)]
    # The restart: the record of commands taken is gone; only the execution log is left.
    seen = open_command_record(path.parent, path, clock)
    submitted: list[CommandRequest] = []

    def submit(request: CommandRequest) -> Verdict:
        submitted.append(request)
        return Verdict("delivered")

    dispatcher = CommandDispatcher(submit, clock, AckOutbox(lambda: None), remember=0, seen=seen)
    now = datetime.fromtimestamp(clock.time(), UTC)
    again = dispatcher.handle(
        CloudToEdgeCommand(
            command_id=first,
            device=B,
            action="set_active_power",
            value=-1000,
            issued_at=now,
            deadline=now + timedelta(seconds=30),
            user="alice",
        )
    )
    assert (again.status, again.reason) == ("executed", None)
    assert submitted == []  # not executed a second time
    seen.close()


def test_a_crash_in_the_middle_of_a_rotation_loses_no_line_and_repeats_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock()
    path = tmp_path / "edge" / "executions.jsonl"
    path.parent.mkdir()
    lines = [
        json.dumps(_execution(n, clock.time() + n).as_json(), separators=(",", ":"))
        for n in range(4)
    ]
    # The crash came after the merged file was renamed over segment 2 and before
    # segment 1 was deleted (so line 0 is in both), and a later merge had only
    # begun its temporary file. Segment 1 also holds a line torn by a power cut.
    (path.parent / "executions.1.jsonl").write_text(f"{lines[0]}\n{lines[1][:20]}\n")
    (path.parent / "executions.2.jsonl").write_text(f"{lines[0]}\n{lines[2]}\n")
    (path.parent / "executions.3.jsonl").write_text(f"{lines[3]}\n")
    (path.parent / "executions.3.jsonl.tmp").write_text(lines[0][:30])
    assert [e.command_id for e in read_executions(path)] == ["cmd-0000", "cmd-0002", "cmd-0003"]
    log = ExecutionLog(path, max_bytes=10_000, keep_files=3, clock=clock)
    log.close()
    assert _files(path) == ["executions.2.jsonl", "executions.3.jsonl", "executions.jsonl"]
    assert (path.parent / "executions.2.jsonl").read_text() == f"{lines[0]}\n{lines[2]}\n"
    assert [e.command_id for e in read_executions(path)] == ["cmd-0000", "cmd-0002", "cmd-0003"]
    assert "unreadable line dropped" in caplog.text


def test_bad_rotation_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep_files"):
        ExecutionLog(tmp_path / "x.jsonl", keep_files=1)
    with pytest.raises(ValueError, match="max_bytes"):
        ExecutionLog(tmp_path / "x.jsonl", max_bytes=0)
