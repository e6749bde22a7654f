"""A device that hangs, refuses or vanishes: stale inputs, CommunicationFailed, recovery.

The driver runs on its own thread against pymodbus's server, exactly as in an
edge; the test waits on DAL writes (watches), never on sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from modbus_device import ServerThread, device, edge_document, modbus_device, started

from ems.clock import RealClock, VirtualClock
from ems.dal import Sample
from ems.drivers.modbus.codec import encode
from ems.edge.config import parse_edge_config
from ems.edge.runtime import EdgeRuntime
from ems.profiles import Limits, Problem, dynamic_limits

WAIT_S = 10.0


def battery_inputs(soc_tenths: int) -> dict[int, int]:
    return {
        **dict(enumerate(encode(-1000, "int32", "big"))),
        2: soc_tenths,
        **dict(zip((3, 4), encode(5000, "uint32", "big"), strict=True)),
        **dict(zip((5, 6), encode(5000, "uint32", "big"), strict=True)),
    }


class Watch:
    """Signals when a DAL channel is written with a value matching ``want``."""

    def __init__(self, rt: EdgeRuntime, address: str, want: Callable[[Sample], bool]) -> None:
        self.event = threading.Event()
        self.count = 0

        def seen(_a: str, sample: Sample) -> None:
            if want(sample):
                self.count += 1
                self.event.set()

        self._unwatch = rt.store.watch(address, seen)

    def wait(self) -> bool:
        ok = self.event.wait(WAIT_S)
        self.event.clear()
        return ok

    def close(self) -> None:
        self._unwatch()


def start_edge(
    port: int,
    config_dir: Path | None = None,
    template: str = "generic_battery",
    **params: object,
) -> EdgeRuntime:
    config = parse_edge_config(
        edge_document(modbus_device("battery_1", "battery", template, port, **params)),
        config_dir=config_dir,
    )
    rt = EdgeRuntime(config, RealClock())
    rt.drivers.start()
    return rt


def test_a_hung_device_goes_stale_and_recovers_by_itself(
    modbus_server: list[ServerThread],
) -> None:
    server = started(ServerThread(device({}, battery_inputs(500))), modbus_server)
    rt = start_edge(server.port)
    failed = Watch(rt, "battery_1/CommunicationFailed", lambda s: s.value is True)
    answered = Watch(rt, "battery_1/CommunicationFailed", lambda s: s.value is False)
    try:
        assert answered.wait()
        server.freeze()  # connections stay up, no answer comes
        assert failed.wait()
        soc = rt.store.get_channel("battery_1/Soc")
        assert soc is not None
        # Several more polls fail; the inputs keep their last timestamp (stale honestly).
        for _ in range(3):
            assert failed.wait()
        assert rt.store.get_channel("battery_1/Soc") == soc
        assert rt.drivers.runners["battery_1"].poll_failures >= 4

        # Polls answered between the first wait and the freeze set the event again:
        # forget them, so the wait below is for an answer after the thaw.
        answered.event.clear()
        server.thaw()  # the device answers again: no restart of anything
        assert answered.wait()
        fresh = rt.store.get_channel("battery_1/Soc")
        assert fresh is not None and fresh.ts > soc.ts
    finally:
        failed.close()
        answered.close()
        rt.drivers.stop()


def test_a_device_that_goes_away_is_reconnected_when_it_is_back(
    modbus_server: list[ServerThread],
) -> None:
    server = started(ServerThread(device({}, battery_inputs(500))), modbus_server)
    rt = start_edge(server.port)
    failed = Watch(rt, "battery_1/CommunicationFailed", lambda s: s.value is True)
    answered = Watch(rt, "battery_1/CommunicationFailed", lambda s: s.value is False)
    try:
        assert answered.wait()
        server.stop()  # nothing listens any more
        assert failed.wait()
        started(ServerThread(device({}, battery_inputs(777)), port=server.port), modbus_server)
        soc_77 = Watch(rt, "battery_1/Soc", lambda s: s.value == 77.7)
        assert soc_77.wait()
        soc_77.close()
        assert rt.store.get_channel("battery_1/CommunicationFailed").value is False  # type: ignore[union-attr]
    finally:
        failed.close()
        answered.close()
        rt.drivers.stop()


def test_an_illegal_address_leaves_those_channels_stale_and_the_rest_fresh(
    modbus_server: list[ServerThread], tmp_path: Path
) -> None:
    # The device holds 100 input registers; Capacity is mapped past them (exception 2).
    (tmp_path / "partial.yaml").write_text(
        "channels:\n"
        "  Soc: {address: 2, function: input, type: uint16, scale: 0.1}\n"
        "  Capacity: {address: 150, function: input, type: uint32}\n"
    )
    server = started(ServerThread(device({}, battery_inputs(420), size=100)), modbus_server)
    rt = start_edge(server.port, tmp_path, "partial")
    errors = Watch(rt, "battery_1/ReadErrors", lambda s: isinstance(s.value, int) and s.value >= 2)
    try:
        assert errors.wait()
        snap = rt.store.snapshot()
        assert snap.value("battery_1/Soc") == 42.0
        assert snap.get("battery_1/Capacity") is None  # never read, never made up
        assert snap.value("battery_1/CommunicationFailed") is False  # it does answer
    finally:
        errors.close()
        rt.drivers.stop()


def test_the_cycle_keeps_its_period_while_a_device_hangs(
    modbus_server: list[ServerThread],
) -> None:
    server = started(ServerThread(device({}, battery_inputs(500))), modbus_server)
    # A long device timeout, so a cycle that waited for the device would stand out
    # from any scheduling delay of a loaded machine by an order of magnitude.
    timeout_s = 2.0
    rt = start_edge(server.port, timeout_s=timeout_s, retries=0)
    failed = Watch(rt, "battery_1/CommunicationFailed", lambda s: s.value is True)
    try:
        server.freeze()
        assert failed.wait()
        period_s = 0.02
        rt.cycle.period_s = period_s
        durations: list[float] = []
        jitters: list[float] = []
        unwatch = [
            rt.store.watch("_cycle/DurationMs", lambda _a, s: durations.append(float(s.value))),  # type: ignore[arg-type]
            rt.store.watch("_cycle/JitterMs", lambda _a, s: jitters.append(float(s.value))),  # type: ignore[arg-type]
        ]
        asyncio.run(rt.cycle.run(max_cycles=25))
        for undo in unwatch:
            undo()
        # Each poll of the device runs into its 2 s timeout, and the cycle writes a
        # setpoint to it every 20 ms; a cycle that waited for the device even once
        # would last or start 2 s late. (The budget, p99 jitter <= 2 ms, is
        # measured by bench/devices.py, not here on a shared machine.)
        timeout_ms = timeout_s * 1000.0
        assert len(durations) == 25
        assert max(durations) < timeout_ms / 2
        assert max(jitters) < timeout_ms / 2
    finally:
        failed.close()
        rt.drivers.stop()


def test_inputs_of_a_silent_device_age_until_its_commands_are_refused_as_stale(
    modbus_server: list[ServerThread],
) -> None:
    """The timestamps stop with the device, so the dynamic limits the cloud checks
    (``MaxChargePower``/``MaxDischargePower``, 30 s) refuse it as ``stale_telemetry``."""
    server = started(ServerThread(device({}, battery_inputs(500))), modbus_server)
    clock = VirtualClock()
    # No retries: their backoff waits on the virtual clock, which this test drives.
    doc = edge_document(
        modbus_device("battery_1", "battery", "generic_battery", server.port, retries=0)
    )
    rt = EdgeRuntime(parse_edge_config(doc), clock)
    runner = rt.drivers.runners["battery_1"]
    action = rt.devices["battery_1"].actions["set_active_power"]

    def lookup(channel: str) -> tuple[object, float] | None:
        sample = rt.store.get_channel(f"battery_1/{channel}")
        return None if sample is None else (sample.value, sample.ts)

    try:
        assert runner.poll_once()
        assert isinstance(dynamic_limits(action, lookup, clock.time()), Limits)
        server.stop()
        for _ in range(31):  # a poll a second, none answered
            clock.advance(1.0)
            assert not runner.poll_once()
        problem = dynamic_limits(action, lookup, clock.time())
        assert isinstance(problem, Problem) and problem.reason == "stale_telemetry"
        assert rt.store.get_channel("battery_1/CommunicationFailed").value is True  # type: ignore[union-attr]
    finally:
        rt.drivers.stop()
