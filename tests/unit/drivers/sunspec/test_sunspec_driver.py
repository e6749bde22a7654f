"""``driver: sunspec`` against pymodbus servers holding maps pysunspec2 encoded.

Reads match pysunspec2's own client; a profile the device cannot fill is
refused at start naming ``profile``; garbage (a wrong marker, a truncated
model, an illegal address inside a model) and a device that goes away give
``CommunicationFailed`` or ``ReadErrors``, never an exception out of the poll,
and the device is discovered again when it answers properly.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP
from sunspec_edge import channel, sunspec_device, sunspec_edge
from sunspec_server import (
    COMMON,
    CONTROLS_123,
    INVERTER_103,
    NAMEPLATE_120,
    STORAGE_124,
    LoopbackServer,
    sunspec_map,
)

from ems.dal import Sample
from ems.drivers.base import DriverContext
from ems.drivers.sunspec import Registers, SunSpecConfig, SunSpecDriver
from ems.edge.runtime import EdgeRuntime
from ems.errors import ConfigError, DeviceRefused, DeviceTimeout
from ems.profiles import builtin_profiles

BATTERY = [(1, COMMON), (103, INVERTER_103), (120, NAMEPLATE_120), (124, STORAGE_124)]
PV = [(1, COMMON), (103, INVERTER_103), (120, NAMEPLATE_120), (123, CONTROLS_123)]
BASE = 40000
WAIT_S = 10.0


class Servers:
    """Servers the test starts; any still running are stopped after it."""

    def __init__(self) -> None:
        self.running: list[LoopbackServer] = []

    def start(self, blocks: dict[int, list[int]], port: int = 0) -> LoopbackServer:
        server = LoopbackServer(blocks, port=port).start()
        self.running.append(server)
        return server

    def stop(self, server: LoopbackServer) -> None:
        self.running.remove(server)
        server.stop()


@pytest.fixture
def servers() -> Iterator[Servers]:
    s = Servers()
    yield s
    for server in s.running:
        server.stop()


@pytest.fixture
def edges() -> Iterator[list[EdgeRuntime]]:
    made: list[EdgeRuntime] = []
    yield made
    for rt in made:
        rt.drivers.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def model_address(words: list[int], model_id: int) -> int:
    """Offset of a model's ID register in a map from ``sunspec_map`` (marker at 0)."""
    offset = 2
    while words[offset] != model_id:
        offset += 2 + words[offset + 1]
    return offset


def one_edge(edges: list[EdgeRuntime], profile: str, port: int, **params: Any) -> EdgeRuntime:
    rt = sunspec_edge(sunspec_device("dev", profile, port, **params))
    edges.append(rt)
    return rt


def test_a_battery_reads_as_pysunspec2_reads_it(servers: Servers, edges: list[EdgeRuntime]) -> None:
    server = servers.start({BASE: sunspec_map(BATTERY)})
    rt = one_edge(edges, "battery", server.port)
    assert rt.drivers.runners["dev"].poll_once()
    reference = SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=server.port)
    try:
        reference.scan()
        storage, nameplate = reference.models[124][0], reference.models[120][0]
        inverter = reference.models[103][0]
        assert channel(rt, "dev/Soc") == pytest.approx(storage.ChaState.cvalue)
        assert channel(rt, "dev/Capacity") == pytest.approx(nameplate.WHRtg.cvalue)
        assert channel(rt, "dev/MaxChargePower") == pytest.approx(nameplate.MaxChaRte.cvalue)
        assert channel(rt, "dev/MaxDischargePower") == pytest.approx(nameplate.MaxDisChaRte.cvalue)
        assert channel(rt, "dev/ActivePower") == pytest.approx(inverter.W.cvalue)
    finally:
        reference.close()
    assert channel(rt, "dev/Soc") == pytest.approx(65.5)
    assert channel(rt, "dev/State") == "discharging"
    assert channel(rt, "dev/CommunicationFailed") is False
    assert channel(rt, "dev/ReadErrors") == 0
    driver = rt.drivers.runners["dev"].driver
    assert isinstance(driver, SunSpecDriver) and driver.model_ids() == (1, 103, 120, 124)


def test_a_pv_inverter_reads_its_ac_side(servers: Servers, edges: list[EdgeRuntime]) -> None:
    server = servers.start({BASE: sunspec_map(PV)})
    rt = one_edge(edges, "pv_inverter", server.port)
    assert rt.drivers.runners["dev"].poll_once()
    assert channel(rt, "dev/ActivePower") == pytest.approx(4567.0)
    assert channel(rt, "dev/ActiveEnergy") == pytest.approx(1234567.0)
    assert channel(rt, "dev/Voltage") == pytest.approx(230.1)
    assert channel(rt, "dev/Current") == pytest.approx(12.3)


def test_a_profile_the_devices_models_cannot_fill_is_refused_at_start(servers: Servers) -> None:
    server = servers.start({BASE: sunspec_map(PV)})  # no storage model
    with pytest.raises(ConfigError) as err:
        sunspec_edge(sunspec_device("dev", "battery", server.port))
    message = str(err.value)
    assert message.startswith("devices[0].profile:"), message
    assert "124" in message, message


def test_a_profile_the_driver_does_not_fill_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match=r"devices\[0\]\.profile: .*grid_meter"):
        sunspec_edge(sunspec_device("dev", "grid_meter", free_port()))


def test_bad_params_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"devices\[0\]\.params\.port"):
        sunspec_edge(sunspec_device("dev", "battery", 70000))


def test_a_device_absent_at_start_is_polled_until_it_answers_then_rediscovered_after_a_loss(
    servers: Servers, edges: list[EdgeRuntime]
) -> None:
    port = free_port()
    rt = one_edge(edges, "battery", port)  # nobody listens yet: the edge starts anyway
    runner = rt.drivers.runners["dev"]
    assert not runner.poll_once()
    assert channel(rt, "dev/CommunicationFailed") is True
    first = servers.start({BASE: sunspec_map(BATTERY)}, port=port)
    assert runner.poll_once()
    assert channel(rt, "dev/CommunicationFailed") is False
    soc_ts = rt.store.get_channel("dev/Soc").ts  # type: ignore[union-attr]

    servers.stop(first)  # the device goes away mid-run: inputs keep their timestamp
    assert not runner.poll_once()
    assert channel(rt, "dev/CommunicationFailed") is True
    assert rt.store.get_channel("dev/Soc").ts == soc_ts  # type: ignore[union-attr]

    # It comes back restarted, its map now at base 0 with another SoC: found again.
    storage = {**STORAGE_124, "ChaState": 420}
    servers.start({0: sunspec_map([*BATTERY[:3], (124, storage)])}, port=port)
    assert runner.poll_once()
    assert channel(rt, "dev/CommunicationFailed") is False
    assert channel(rt, "dev/Soc") == pytest.approx(42.0)


def wrong_marker() -> dict[int, list[int]]:
    words = sunspec_map(BATTERY)
    return {BASE: [0x5375, 0x6E54, *words[2:]]}


def truncated_model() -> dict[int, list[int]]:
    words = sunspec_map(BATTERY)
    storage = model_address(words, 124)
    return {BASE: words[: storage + 10]}  # 124 declares 24 registers; 8 are there


@pytest.mark.parametrize("garbage", [wrong_marker, truncated_model])
def test_garbage_is_a_communication_failure_and_recovers_without_restart(
    servers: Servers, edges: list[EdgeRuntime], garbage: Any
) -> None:
    bad = servers.start(garbage())
    rt = one_edge(edges, "battery", bad.port)
    runner = rt.drivers.runners["dev"]
    assert not runner.poll_once()
    assert channel(rt, "dev/CommunicationFailed") is True
    assert channel(rt, "dev/Soc") is None
    servers.stop(bad)
    servers.start({BASE: sunspec_map(BATTERY)}, port=bad.port)
    assert runner.poll_once()
    assert channel(rt, "dev/CommunicationFailed") is False
    assert channel(rt, "dev/Soc") == pytest.approx(65.5)


def test_an_illegal_address_inside_a_model_counts_read_errors_then_recovers(
    servers: Servers, edges: list[EdgeRuntime]
) -> None:
    words = sunspec_map(BATTERY)
    hole = model_address(words, 120) + 5  # VARtg, VARtg_SF: neither a header nor a model's end
    holed = servers.start({BASE: words[:hole], BASE + hole + 2: words[hole + 2 :]})
    rt = one_edge(edges, "battery", holed.port)
    runner = rt.drivers.runners["dev"]
    assert runner.poll_once()  # the device answers: an exception is an answer
    assert channel(rt, "dev/CommunicationFailed") is False
    assert channel(rt, "dev/ReadErrors") == 6  # every battery input of that poll
    assert channel(rt, "dev/Soc") is None
    servers.stop(holed)
    servers.start({BASE: words}, port=holed.port)
    assert runner.poll_once()
    assert channel(rt, "dev/ReadErrors") == 6
    assert channel(rt, "dev/Soc") == pytest.approx(65.5)


class BrokenSocket:
    """Registers whose socket fails in a way pymodbus does not wrap."""

    def read(self, address: int, count: int) -> list[int]:
        raise ConnectionResetError("connection reset by peer")

    def write(self, address: int, values: Sequence[int]) -> None:
        raise ConnectionResetError("connection reset by peer")


class FakeLink:
    def __init__(self) -> None:
        self.closed = 0

    def registers(self) -> Registers:
        return BrokenSocket()

    def close(self) -> None:
        self.closed += 1


def test_a_socket_error_pymodbus_lets_through_is_a_timeout() -> None:
    link = FakeLink()
    driver = SunSpecDriver(
        "dev",
        SunSpecConfig(host="192.0.2.1"),
        builtin_profiles()["battery"],
        DriverContext(),
        link=link,
    )
    with pytest.raises(DeviceTimeout, match="connection reset"):
        driver.read()
    with pytest.raises(DeviceTimeout, match="connection reset"):
        driver.write("SetActivePower", 100.0)
    with pytest.raises(DeviceRefused, match="not written"):
        driver.write("SetReactivePower", 100.0)
    driver.close()
    assert link.closed == 1


def test_on_its_own_thread_a_device_that_goes_away_and_comes_back_recovers(
    servers: Servers, edges: list[EdgeRuntime]
) -> None:
    first = servers.start({BASE: sunspec_map(BATTERY)})
    rt = one_edge(edges, "battery", first.port)
    states: list[bool] = []
    changed = threading.Event()

    def seen(_address: str, sample: Sample) -> None:
        if not states or states[-1] != sample.value:
            states.append(bool(sample.value))
            changed.set()

    def wait_for(state: bool) -> None:
        while not (states and states[-1] == state):
            assert changed.wait(WAIT_S), f"CommunicationFailed never became {state}: {states}"
            changed.clear()

    unwatch = rt.store.watch("dev/CommunicationFailed", seen)
    try:
        rt.drivers.start()
        wait_for(False)
        servers.stop(first)
        wait_for(True)
        servers.start({BASE: sunspec_map(BATTERY)}, port=first.port)
        wait_for(False)
    finally:
        unwatch()
        rt.drivers.stop()
    assert states == [False, True, False]
    assert channel(rt, "dev/Soc") == pytest.approx(65.5)
