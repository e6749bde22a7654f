"""A restarted edge resumes the manual hold and mode saved in its state directory."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ems.clock import VirtualClock
from ems.edge.config import EdgeConfig, parse_edge_config
from ems.edge.controller_state import CONTROLLER_STATE_FILE
from ems.edge.requests import CommandRequest
from ems.edge.runtime import EdgeRuntime
from ems.timefmt import to_rfc3339

B = "battery_1"
SET = f"{B}/SetActivePower"
T0 = 1_780_000_000.0


def site() -> EdgeConfig:
    return parse_edge_config(
        {
            "edge_id": "site-r",
            "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
            "devices": [
                {"id": B, "profile": "battery", "simulator": "battery", "params": {"seed": 1}},
                {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"},
                {"id": "load", "profile": "load_meter", "simulator": "load_meter"},
            ],
            "controllers": [{"id": "manual_override", "type": "manual_override", "priority": 100}],
        }
    )


def start(state_dir: Path | None, at_s: float) -> EdgeRuntime:
    """A fresh edge process, as far as the runtime can tell: new store, new controllers."""
    runtime = EdgeRuntime(site(), VirtualClock(at_s), state_dir=state_dir)
    runtime.host.tick_all()
    return runtime


def command(runtime: EdgeRuntime, cid: str, action: str, value: float | str) -> None:
    now = runtime.clock.time()
    verdict = runtime.requests.submit(
        CommandRequest(cid, B, action, value, to_rfc3339(now), to_rfc3339(now + 5), "test")
    )
    assert verdict.status == "delivered", verdict


def output(runtime: EdgeRuntime) -> object:
    sample = runtime.store.get_channel(SET)
    return None if sample is None else sample.value


def manual(runtime: EdgeRuntime) -> dict[str, float | str | bool] | None:
    return runtime.controllers[0].held(B)  # type: ignore[attr-defined, no-any-return]


def test_a_restarted_edge_resumes_the_held_setpoint(tmp_path: Path) -> None:
    first = start(tmp_path, T0)
    command(first, "c1", "set_active_power", -2000)
    first.cycle.run_once(0)
    assert output(first) == -2000
    second = start(tmp_path, T0 + 30)  # killed and started again
    assert manual(second) == {"set_active_power": -2000}
    second.cycle.run_once(0)
    assert output(second) == -2000, "held from the first cycle after the restart"


def test_manual_mode_without_setpoint_and_a_release_survive_too(tmp_path: Path) -> None:
    first = start(tmp_path, T0)
    command(first, "c1", "set_mode", "manual")
    first.cycle.run_once(0)
    assert manual(start(tmp_path, T0 + 1)) == {}, "manual mode, idle at the default"
    command(first, "c2", "set_active_power", 1500)
    first.cycle.run_once(1)
    command(first, "c3", "set_mode", "auto")
    first.cycle.run_once(2)
    again = start(tmp_path, T0 + 2)
    assert manual(again) is None, "released before the restart: auto after it"
    again.cycle.run_once(0)
    assert output(again) == 0


def test_without_a_state_dir_the_hold_is_lost(tmp_path: Path) -> None:
    first = start(None, T0)
    command(first, "c1", "set_active_power", -2000)
    first.cycle.run_once(0)
    assert manual(start(None, T0 + 1)) is None
    assert not list(tmp_path.iterdir())


def test_saved_atomically_and_only_when_it_changes(tmp_path: Path) -> None:
    first = start(tmp_path, T0)
    path = tmp_path / CONTROLLER_STATE_FILE
    first.cycle.run_once(0)
    saved = json.loads(path.read_text())
    assert saved == {"manual_override": {"held": {}}}
    command(first, "c1", "set_active_power", 700)
    first.cycle.run_once(1)
    assert json.loads(path.read_text()) == {
        "manual_override": {"held": {B: {"set_active_power": 700}}}
    }
    mtime = path.stat().st_mtime_ns
    for k in range(2, 5):
        first.cycle.run_once(k)
    assert path.stat().st_mtime_ns == mtime
    assert first.controller_state is not None and first.controller_state.write_errors == 0
    assert [p.name for p in tmp_path.iterdir()] == [CONTROLLER_STATE_FILE], "no temp file left"


def test_an_unreadable_file_starts_in_auto_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / CONTROLLER_STATE_FILE).write_text("{torn")
    with caplog.at_level(logging.ERROR):
        runtime = start(tmp_path, T0)
    assert manual(runtime) is None
    assert "unreadable" in caplog.text


def test_a_saved_value_the_profile_no_longer_allows_is_dropped(tmp_path: Path) -> None:
    held = {B: {"set_active_power": -9_000_000, "fly": 1}, "battery_9": {}}
    (tmp_path / CONTROLLER_STATE_FILE).write_text(json.dumps({"manual_override": {"held": held}}))
    runtime = start(tmp_path, T0)
    assert manual(runtime) == {}, "still manual, but idle: the value was out of range"


def test_the_hold_is_on_disk_before_its_ack_is_written(tmp_path: Path) -> None:
    runtime = start(tmp_path, T0)
    on_disk_at_ack: list[object] = []
    runtime.store.watch(
        "ack/",
        lambda _a, _s: on_disk_at_ack.append(
            json.loads((tmp_path / CONTROLLER_STATE_FILE).read_text())
        ),
    )
    command(runtime, "c1", "set_active_power", -1200)
    runtime.cycle.run_once(0)
    assert on_disk_at_ack == [{"manual_override": {"held": {B: {"set_active_power": -1200}}}}]


def test_a_failed_save_is_counted_and_the_cycle_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    runtime = start(blocker / "state", T0)  # its parent is a file: every save fails
    command(runtime, "c1", "set_active_power", -1200)
    with caplog.at_level(logging.ERROR):
        runtime.cycle.run_once(0)
    assert output(runtime) == -1200, "the command is still carried out"
    assert runtime.controller_state is not None and runtime.controller_state.write_errors == 1
    assert "could not be saved" in caplog.text
