"""A pushed config is applied between two cycles, or refused with the old one still running."""

from __future__ import annotations

import asyncio
import copy
import os
from pathlib import Path
from typing import Any

import yaml

from ems.clock import VirtualClock
from ems.edge.config import parse_edge_config
from ems.edge.configsync import (
    APPLIED_CONFIG_FILE,
    AppliedConfigFile,
    ConfigApplier,
    choose_start_config,
)
from ems.edge.requests import CommandRequest
from ems.edge.runtime import EdgeRuntime
from ems.protocol import EdgeConfigAck, EdgeConfigPush
from ems.timefmt import to_rfc3339

T0 = 1_780_000_000.0
B = "battery_1"
TARGET = "self_consumption/TargetGridW"


def document(target_grid_w: float = 0.0) -> dict[str, Any]:
    return {
        "edge_id": "site-c",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": [
            {"id": B, "profile": "battery", "simulator": "battery", "params": {"seed": 1}},
            {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"},
            {"id": "load", "profile": "load_meter", "simulator": "load_meter"},
        ],
        "controllers": [
            {
                "id": "self_consumption",
                "type": "self_consumption",
                "priority": 10,
                "params": {"target_grid_w": target_grid_w},
            },
            {"id": "manual_override", "type": "manual_override", "priority": 100},
        ],
    }


def start(state_dir: Path) -> tuple[EdgeRuntime, ConfigApplier]:
    runtime = EdgeRuntime(parse_edge_config(document()), VirtualClock(T0), state_dir=state_dir)
    runtime.host.tick_all()
    applier = ConfigApplier(runtime, AppliedConfigFile(state_dir / APPLIED_CONFIG_FILE))
    return runtime, applier


def push(applier: ConfigApplier, version: int, doc: dict[str, Any]) -> EdgeConfigAck:
    return asyncio.run(applier.apply(EdgeConfigPush(version=version, config=doc)))


def target(runtime: EdgeRuntime) -> object:
    sample = runtime.store.get_channel(TARGET)
    return None if sample is None else sample.value


def test_a_new_parameter_takes_effect_from_the_next_cycle(tmp_path: Path) -> None:
    runtime, applier = start(tmp_path)
    runtime.cycle.run_once(0)
    assert target(runtime) == 0
    ack = push(applier, 1, document(target_grid_w=500))
    assert (ack.status, ack.version) == ("applied", 1)
    runtime.cycle.run_once(1)
    assert target(runtime) == 500
    assert applier.version == 1
    saved = AppliedConfigFile(tmp_path / APPLIED_CONFIG_FILE).load()
    assert saved is not None and saved.version == 1
    assert saved.document["controllers"][0]["params"]["target_grid_w"] == 500


def test_replaced_controllers_are_closed_and_the_new_ones_are_not(tmp_path: Path) -> None:
    """A controller that holds a thread (the demand-response VEN) must not outlive its
    replacement: the swap closes what it replaced, and only that."""
    runtime, applier = start(tmp_path)
    closed: list[str] = []
    for old in runtime.controllers:
        old.close = lambda c=old: closed.append(f"old {c.id}")  # type: ignore[method-assign]
    assert push(applier, 1, document(target_grid_w=500)).status == "applied"
    assert sorted(closed) == sorted(f"old {c}" for c in ("manual_override", "self_consumption"))


def test_a_config_the_schema_refuses_names_the_field_and_keeps_the_old_one(tmp_path: Path) -> None:
    runtime, applier = start(tmp_path)
    bad = document()
    bad["controllers"][0]["params"]["target_grid_w"] = "lots"
    ack = push(applier, 1, bad)
    assert (ack.status, ack.reason) == ("rejected", "invalid_config")
    assert ack.detail is not None and "controllers[0].params.target_grid_w" in ack.detail
    runtime.cycle.run_once(0)
    assert target(runtime) == 0
    assert applier.version is None
    assert not (tmp_path / APPLIED_CONFIG_FILE).exists()


def test_a_controller_that_refuses_this_site_is_rejected_and_the_old_one_runs(
    tmp_path: Path,
) -> None:
    runtime, applier = start(tmp_path)
    assert push(applier, 1, document(target_grid_w=200)).status == "applied"
    broken = document(target_grid_w=900)
    broken["controllers"][0]["params"]["battery"] = "battery_9"  # valid shape, no such device
    ack = push(applier, 2, broken)
    assert (ack.status, ack.reason) == ("rejected", "build_failed")
    assert ack.detail is not None and "battery_9" in ack.detail
    runtime.cycle.run_once(0)
    assert target(runtime) == 200, "version 1 still runs"
    saved = AppliedConfigFile(tmp_path / APPLIED_CONFIG_FILE).load()
    assert saved is not None and saved.version == 1


def test_site_changes_need_a_restart_and_other_edges_configs_are_refused(
    tmp_path: Path,
) -> None:
    _, applier = start(tmp_path)
    moved = document()
    moved["site"]["latitude_deg"] = 48.1
    ack = push(applier, 1, moved)
    assert (ack.status, ack.reason) == ("rejected", "restart_required")
    assert ack.detail is not None and ack.detail.startswith("site")
    other = document()
    other["edge_id"] = "site-x"
    assert push(applier, 1, other).reason == "wrong_edge"


def test_versions_only_move_forward_and_a_repush_is_acked_again(tmp_path: Path) -> None:
    _, applier = start(tmp_path)
    assert push(applier, 3, document(100)).status == "applied"
    assert push(applier, 3, document(100)).status == "applied"  # its ack was lost: say so again
    assert push(applier, 2, document(50)).reason == "stale_version"


def test_the_manual_hold_survives_a_swap(tmp_path: Path) -> None:
    runtime, applier = start(tmp_path)
    now = runtime.clock.time()
    verdict = runtime.requests.submit(
        CommandRequest(
            "c1", B, "set_active_power", -1500, to_rfc3339(now), to_rfc3339(now + 5), "t"
        )
    )
    assert verdict.status == "delivered"
    runtime.cycle.run_once(0)
    assert runtime.store.get_channel(f"{B}/SetActivePower").value == -1500  # type: ignore[union-attr]
    assert push(applier, 1, document(300)).status == "applied"
    runtime.cycle.run_once(1)
    assert runtime.store.get_channel(f"{B}/SetActivePower").value == -1500  # type: ignore[union-attr]


def test_start_rule_applied_config_wins_unless_the_file_is_newer(tmp_path: Path) -> None:
    local = tmp_path / "edge.yaml"
    local.write_text(yaml.safe_dump(document(0)))
    os.utime(local, (T0, T0))
    state = tmp_path / "state"
    config, version, _ = choose_start_config(local, state)
    assert version is None, "nothing applied yet: the file"
    from ems.edge.configsync import AppliedConfig

    AppliedConfigFile(state / APPLIED_CONFIG_FILE).save(
        AppliedConfig(4, copy.deepcopy(document(700)), T0 + 60)
    )
    config, version, source = choose_start_config(local, state)
    assert version == 4 and "version 4" in source
    assert config.controllers[0].params["target_grid_w"] == 700
    os.utime(local, (T0 + 120, T0 + 120))  # the operator edited the file afterwards
    config, version, source = choose_start_config(local, state)
    assert version is None and "local file" in source
    assert config.controllers[0].params["target_grid_w"] == 0


def test_a_device_that_cannot_be_made_is_named_before_any_restart(tmp_path: Path) -> None:
    _, applier = start(tmp_path)
    doc = document()
    doc["devices"].append(
        {
            "id": "battery_2",
            "profile": "battery",
            "driver": "modbus_tcp",
            "params": {"host": "127.0.0.1", "port": 5020, "template": "no_such_template"},
        }
    )
    ack = push(applier, 1, doc)
    assert (ack.status, ack.reason) == ("rejected", "build_failed")
    assert ack.detail is not None and "devices[3].params.template" in ack.detail
