"""A pushed config that changes ``devices:`` is applied between two cycles: new devices
start, unchanged ones run on untouched, removed ones stop and leave the DAL; a device
that cannot start makes the config rejected and the old one keeps running."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ems.clock import VirtualClock
from ems.dal import Sample, Value
from ems.devices.base import Simulator, SimulatorConfig, register_simulator
from ems.drivers.base import Driver, DriverConfig, Reading, register_driver
from ems.edge.config import parse_edge_config
from ems.edge.configsync import APPLIED_CONFIG_FILE, AppliedConfigFile, ConfigApplier
from ems.edge.requests import CommandRequest
from ems.edge.runtime import EdgeRuntime
from ems.errors import DeviceTimeout, UnknownChannel
from ems.protocol import EdgeConfigAck, EdgeConfigPush
from ems.timefmt import to_rfc3339

T0 = 1_780_000_000.0
B = "battery_1"


class FakeConfig(DriverConfig):
    behaviour: str = "answers"  # answers | dead | hangs
    power_w: float = 2000.0


@register_driver
class FakeMeter(Driver):
    """A real device in memory: it answers, never answers, or hangs until released."""

    type_name = "test_sync_fake"
    config_model = FakeConfig
    release: ClassVar[threading.Event] = threading.Event()
    closed: ClassVar[list[str]] = []

    def read(self) -> Reading:
        config = self.config
        assert isinstance(config, FakeConfig)
        if config.behaviour == "dead":
            raise DeviceTimeout("connection refused")
        if config.behaviour == "hangs":
            FakeMeter.release.wait(30)
            raise DeviceTimeout("no answer")
        return Reading({"ActivePower": config.power_w})

    def write(self, channel: str, value: Value) -> None:
        raise AssertionError("a meter is not written")

    def close(self) -> None:
        FakeMeter.closed.append(self.device_id)


@register_simulator
class Diverging(Simulator):
    """A model that is made fine but fails on its first step."""

    type_name = "test_sync_diverging"
    config_model = SimulatorConfig

    def step(self, now_s: float, dt_s: float, setpoints: Mapping[str, Sample]) -> dict[str, Value]:
        raise FloatingPointError("the model diverged")


def document(*extra: dict[str, Any], battery_seed: int = 1) -> dict[str, Any]:
    return {
        "edge_id": "site-d",
        "site": {"latitude_deg": 52.5, "longitude_deg": 13.4},
        "devices": [
            {
                "id": B,
                "profile": "battery",
                "simulator": "battery",
                "params": {"seed": battery_seed},
            },
            {"id": "grid", "profile": "grid_meter", "simulator": "grid_meter"},
            {"id": "load", "profile": "load_meter", "simulator": "load_meter"},
            *extra,
        ],
        "controllers": [
            {"id": "self_consumption", "type": "self_consumption", "priority": 10},
            {"id": "manual_override", "type": "manual_override", "priority": 100},
        ],
    }


PV_SIM = {"id": "pv_1", "profile": "pv_inverter", "simulator": "pv_inverter"}


def fake(behaviour: str, device_id: str = "meter_2") -> dict[str, Any]:
    return {
        "id": device_id,
        "profile": "load_meter",
        "driver": "test_sync_fake",
        "params": {"behaviour": behaviour, "retries": 0},
    }


def start(state_dir: Path, ready_timeout_s: float = 5.0) -> tuple[EdgeRuntime, ConfigApplier]:
    runtime = EdgeRuntime(parse_edge_config(document()), VirtualClock(T0), state_dir=state_dir)
    runtime.host.tick_all()
    applier = ConfigApplier(
        runtime,
        AppliedConfigFile(state_dir / APPLIED_CONFIG_FILE),
        device_ready_timeout_s=ready_timeout_s,
    )
    return runtime, applier


def push(applier: ConfigApplier, version: int, doc: dict[str, Any]) -> EdgeConfigAck:
    return asyncio.run(applier.apply(EdgeConfigPush(version=version, config=doc)))


def value(runtime: EdgeRuntime, address: str) -> object:
    sample = runtime.store.get_channel(address)
    return None if sample is None else sample.value


def balance(runtime: EdgeRuntime, *devices: str) -> float:
    """load - (grid + devices): 0 when the grid meter closes the balance over them."""
    snap = runtime.store.snapshot()
    load = float(snap.value("load/ActivePower"))  # type: ignore[arg-type]
    parts = [float(snap.value(f"{d}/ActivePower")) for d in ("grid", *devices)]  # type: ignore[arg-type]
    return load - sum(parts)


def test_an_added_simulator_runs_and_the_unchanged_devices_keep_their_objects(
    tmp_path: Path,
) -> None:
    runtime, applier = start(tmp_path)
    kept = {s.device_id: s for s in runtime.simulators}
    runtime.cycle.run_once(0)
    ack = push(applier, 1, document(PV_SIM))
    assert (ack.status, ack.version) == ("applied", 1)
    assert list(runtime.devices) == [B, "grid", "load", "pv_1"]
    for device_id, sim in kept.items():
        assert any(s is sim for s in runtime.simulators), f"{device_id} was rebuilt"
    runtime.host.tick_all()
    runtime.cycle.run_once(1)  # the next cycle sees the new device
    assert value(runtime, "pv_1/ActivePower") is not None
    assert abs(balance(runtime, B, "pv_1")) < 1e-9, "the grid meter closes over the new PV"
    assert value(runtime, "_sum/ProductionActivePower") == value(runtime, "pv_1/ActivePower")
    saved = AppliedConfigFile(tmp_path / APPLIED_CONFIG_FILE).load()
    assert saved is not None and saved.version == 1


def test_a_changed_device_gets_a_new_simulator_the_others_do_not(tmp_path: Path) -> None:
    runtime, applier = start(tmp_path)
    before = {s.device_id: s for s in runtime.simulators}
    assert push(applier, 1, document(battery_seed=9)).status == "applied"
    after = {s.device_id: s for s in runtime.simulators}
    assert after[B] is not before[B]
    assert after["grid"] is before["grid"] and after["load"] is before["load"]


def test_a_removed_device_stops_and_its_channels_and_pending_commands_go(
    tmp_path: Path,
) -> None:
    runtime, applier = start(tmp_path)
    assert push(applier, 1, document(PV_SIM)).status == "applied"
    runtime.host.tick_all()
    now = runtime.clock.time()
    verdict = runtime.requests.submit(
        CommandRequest(
            "c-pv", "pv_1", "set_active_power_limit", 50, to_rfc3339(now), to_rfc3339(now + 5), "t"
        )
    )
    assert verdict.status == "delivered"
    acks: list[object] = []
    runtime.store.watch("ack/", lambda _a, s: acks.append(s.value))
    assert push(applier, 2, document()).status == "applied"
    with pytest.raises(UnknownChannel):
        runtime.store.get_channel("pv_1/ActivePower")
    assert not any(a.startswith("pv_1/") for a in runtime.store.snapshot())
    assert [(a["command_id"], a["status"], a["reason"]) for a in acks] == [  # type: ignore[index]
        ("c-pv", "failed", "device_removed")
    ]
    runtime.host.tick_all()
    runtime.cycle.run_once(0)
    assert abs(balance(runtime, B)) < 1e-9, "the removed PV no longer counts in the balance"


def test_a_simulator_refusing_its_parameters_is_rejected_and_nothing_changes(
    tmp_path: Path,
) -> None:
    runtime, applier = start(tmp_path)
    channels = {c.address for c in runtime.store.channels()}
    # The schema passes it; the replay finds no file when it is made.
    bad = {
        "id": "pv_1",
        "profile": "pv_inverter",
        "simulator": "replay",
        "params": {"csv": "no-such.csv", "column": "pv_w"},
    }
    ack = push(applier, 1, document(bad))
    assert (ack.status, ack.reason) == ("rejected", "build_failed")
    assert ack.detail is not None and "devices[3].params.csv" in ack.detail
    assert list(runtime.devices) == [B, "grid", "load"]
    assert {c.address for c in runtime.store.channels()} == channels
    assert applier.version is None


def test_a_simulator_whose_model_fails_its_first_step_is_not_ready(tmp_path: Path) -> None:
    runtime, applier = start(tmp_path)
    broken = {"id": "load_2", "profile": "load_meter", "simulator": "test_sync_diverging"}
    ack = push(applier, 1, document(broken))
    assert (ack.status, ack.reason) == ("rejected", "device_not_ready")
    assert ack.detail is not None and "load_2" in ack.detail and "diverged" in ack.detail
    assert "load_2" not in runtime.devices
    assert all(s.device_id != "load_2" for s in runtime.host.simulators)


def test_a_real_device_that_answers_is_started_behind_a_probe(tmp_path: Path) -> None:
    runtime, applier = start(tmp_path)
    assert push(applier, 1, document(fake("answers"))).status == "applied"
    runner = runtime.drivers.runners["meter_2"]
    assert runner.poll_once()
    assert value(runtime, "meter_2/ActivePower") == 2000.0
    assert value(runtime, "meter_2/CommunicationFailed") is False
    assert runtime.cycle._writer is runtime.drivers  # setpoints now reach driver devices


def test_a_real_device_that_does_not_answer_rejects_the_config(tmp_path: Path) -> None:
    runtime, applier = start(tmp_path)
    assert push(applier, 1, document(PV_SIM)).status == "applied"
    FakeMeter.closed.clear()
    ack = push(applier, 2, document(PV_SIM, fake("dead")))
    assert (ack.status, ack.reason) == ("rejected", "device_not_ready")
    assert ack.detail is not None and "meter_2" in ack.detail and "refused" in ack.detail
    assert "meter_2" in FakeMeter.closed, "the probe's connection is dropped"
    assert "meter_2" not in runtime.devices and not runtime.drivers.runners
    with pytest.raises(UnknownChannel):
        runtime.store.get_channel("meter_2/ActivePower")
    assert applier.version == 1
    saved = AppliedConfigFile(tmp_path / APPLIED_CONFIG_FILE).load()
    assert saved is not None and saved.version == 1
    runtime.host.tick_all()
    runtime.cycle.run_once(0)
    assert abs(balance(runtime, B, "pv_1")) < 1e-9, "version 1 still runs"


def test_a_real_device_that_hangs_is_given_up_after_the_ready_timeout(tmp_path: Path) -> None:
    runtime, applier = start(tmp_path, ready_timeout_s=0.2)
    FakeMeter.release.clear()
    FakeMeter.closed.clear()

    async def apply_then_release() -> EdgeConfigAck:
        try:
            return await applier.apply(EdgeConfigPush(version=1, config=document(fake("hangs"))))
        finally:
            FakeMeter.release.set()  # the probe's thread ends; the driver is closed then

    ack = asyncio.run(apply_then_release())
    assert (ack.status, ack.reason) == ("rejected", "device_not_ready")
    assert ack.detail is not None and "within 0.2 s" in ack.detail
    assert "meter_2" not in runtime.devices
    assert "meter_2" in FakeMeter.closed


def test_running_threads_are_swapped_old_stopped_before_new_started(tmp_path: Path) -> None:
    runtime, applier = start(tmp_path)
    runtime.host.start()
    runtime.drivers.start()
    try:
        old_battery = next(s for s in runtime.simulators if s.device_id == B)
        threads_before = {t.name for t in threading.enumerate()}
        assert "sim-battery_1" in threads_before and "sim-pv_1" not in threads_before
        assert push(applier, 1, document(PV_SIM, fake("answers"), battery_seed=3)).status == (
            "applied"
        )
        running = {s.device_id: t for s, t, _ in runtime.host._threads.values()}
        assert set(running) == {B, "grid", "load", "pv_1"}
        assert all(t.is_alive() for t in running.values())
        assert not any(s is old_battery for s, _, _ in runtime.host._threads.values())
        assert runtime.drivers.runners["meter_2"].started
        names = [t.name for t in threading.enumerate()]
        assert names.count("sim-battery_1") == 1, "the old battery's thread has stopped"
    finally:
        runtime.drivers.stop()
        runtime.host.stop()


def test_a_second_simulated_grid_meter_is_refused_before_anything_changes(
    tmp_path: Path,
) -> None:
    runtime, applier = start(tmp_path)
    grid_2 = {"id": "grid_2", "profile": "grid_meter", "simulator": "grid_meter"}
    ack = push(applier, 1, document(grid_2))
    assert (ack.status, ack.reason) == ("rejected", "build_failed")
    assert ack.detail is not None and "grid_2" in ack.detail
    assert list(runtime.devices) == [B, "grid", "load"]
