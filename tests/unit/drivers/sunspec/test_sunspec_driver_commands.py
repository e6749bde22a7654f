"""Commands through the edge's request path to SunSpec devices served from the site's simulators.

Cycle table as in the Modbus tests: cycle 0 applies the command and hands the
write to the driver (no ack yet); the driver's thread writes (``flush_writes``
here); cycle 1 answers it from the write's verdict.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pytest
from served_site import Served
from sunspec_edge import channel, command, sunspec_device, sunspec_edge
from sunspec_server import (
    COMMON,
    INVERTER_103,
    NAMEPLATE_120,
    STORAGE_124,
    LoopbackServer,
    sunspec_map,
)

from ems.edge.executions import Execution
from ems.edge.runtime import EdgeRuntime

NOON_S = datetime(2026, 6, 21, 11, 0, tzinfo=UTC).timestamp()  # 13:00 in Berlin, midsummer
SITE = {
    "edge_id": "served",
    "site": {"latitude_deg": 52.52, "longitude_deg": 13.405, "timezone": "Europe/Berlin"},
    "devices": [
        {
            "id": "battery_1",
            "profile": "battery",
            "simulator": "battery",
            "params": {"capacity_wh": 10000, "initial_soc_pct": 50, "max_charge_power_w": 5000},
        },
        {
            "id": "pv_1",
            "profile": "pv_inverter",
            "simulator": "pv_inverter",
            "params": {"seed": 2, "cloudiness": 0.0, "inverter_max_power_w": 8000},
        },
    ],
}


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served(SITE, NOON_S)
    yield s
    s.close()


@pytest.fixture
def executions() -> list[Execution]:
    return []


@pytest.fixture
def edge(served: Served, executions: list[Execution]) -> Iterator[EdgeRuntime]:
    rt = sunspec_edge(
        sunspec_device("battery_1", "battery", served.ports["battery_1"]),
        sunspec_device("pv_1", "pv_inverter", served.ports["pv_1"]),
        executions=executions,
    )
    yield rt
    rt.drivers.stop()


def poll_all(rt: EdgeRuntime) -> None:
    for runner in rt.drivers.runners.values():
        assert runner.poll_once()


def ack(rt: EdgeRuntime, name: str) -> Mapping[str, object] | None:
    value = channel(rt, f"ack/{name}")
    assert value is None or isinstance(value, Mapping)
    return value


def apply_and_write(rt: EdgeRuntime, device: str) -> None:
    """Cycle 0 applies, the driver writes, cycle 1 answers."""
    rt.cycle.run_once(0)
    rt.drivers.runners[device].flush_writes()
    rt.cycle.run_once(1)


def test_the_edge_reads_the_served_simulators_through_the_driver(
    served: Served, edge: EdgeRuntime
) -> None:
    poll_all(edge)
    battery, pv = served.channels["battery_1"], served.channels["pv_1"]
    assert channel(edge, "battery_1/Soc") == pytest.approx(battery["Soc"], abs=0.05)
    assert channel(edge, "battery_1/MaxChargePower") == pytest.approx(
        battery["MaxChargePower"], abs=0.5
    )
    assert channel(edge, "pv_1/ActivePower") == pytest.approx(pv["ActivePower"], abs=0.5)
    assert channel(edge, "pv_1/ActivePower") > 1000  # midsummer noon, clear sky


def test_a_battery_setpoint_is_executed_only_after_it_reached_the_device(
    served: Served, edge: EdgeRuntime, executions: list[Execution]
) -> None:
    poll_all(edge)
    command(edge, "c-1", "battery_1", "set_active_power", -2000)
    edge.cycle.run_once(0)
    assert ack(edge, "battery_1_power") is None and executions == []  # applied, not confirmed
    assert "SetActivePower" not in served.site.devices["battery_1"].setpoints
    edge.drivers.runners["battery_1"].flush_writes()
    edge.cycle.run_once(1)
    answer = ack(edge, "battery_1_power")
    assert answer is not None and answer["status"] == "executed", answer
    assert [e.command_id for e in executions] == ["c-1"]
    setpoint = served.site.devices["battery_1"].setpoints["SetActivePower"]
    assert setpoint.value == pytest.approx(-2000.0)
    served.step(1.0)  # the simulator follows it, and the edge reads that back
    assert edge.drivers.runners["battery_1"].poll_once()
    assert channel(edge, "battery_1/ActivePower") == pytest.approx(-2000.0)


def test_a_pv_limit_is_written_to_the_controls_model(served: Served, edge: EdgeRuntime) -> None:
    poll_all(edge)
    command(edge, "c-2", "pv_1", "set_active_power_limit", 3000)
    apply_and_write(edge, "pv_1")
    answer = ack(edge, "pv_1_power_limit")
    assert answer is not None and answer["status"] == "executed", answer
    limit = served.site.devices["pv_1"].setpoints["SetActivePowerLimit"]
    assert limit.value == pytest.approx(3000.0)


def test_a_device_gone_fails_the_command_as_timeout(
    served: Served, edge: EdgeRuntime, executions: list[Execution]
) -> None:
    poll_all(edge)
    served.stop_serving()
    command(edge, "c-3", "battery_1", "set_active_power", 1000)
    apply_and_write(edge, "battery_1")
    answer = ack(edge, "battery_1_power")
    assert answer is not None
    assert (answer["status"], answer["reason"]) == ("failed", "device_timeout")
    assert executions == []
    assert not edge.drivers.runners["battery_1"].poll_once()
    assert channel(edge, "battery_1/CommunicationFailed") is True


def test_a_device_that_cannot_take_the_setpoint_fails_the_command_with_a_reason(
    executions: list[Execution],
) -> None:
    # 124 without WChaMax: its power window has no reference, so the write is refused.
    storage = {**STORAGE_124, "WChaMax": 0xFFFF}
    models = [(1, COMMON), (103, INVERTER_103), (120, NAMEPLATE_120), (124, storage)]
    server = LoopbackServer({40000: sunspec_map(models)}).start()
    rt = sunspec_edge(sunspec_device("battery_1", "battery", server.port), executions=executions)
    try:
        assert rt.drivers.runners["battery_1"].poll_once()
        command(rt, "c-4", "battery_1", "set_active_power", 1500)
        apply_and_write(rt, "battery_1")
        answer = ack(rt, "battery_1_power")
        assert answer is not None
        assert (answer["status"], answer["reason"]) == ("failed", "device_write_failed")
        assert "WChaMax" in str(answer["detail"])
        assert executions == []
        assert channel(rt, "battery_1/WriteFailures") == 1
    finally:
        rt.drivers.stop()
        server.stop()
