"""A setpoint command on a driven device: ``executed`` only once the device took the write.

Cycle table: cycle 0 applies the command and hands the write to the driver
(no ack yet); the driver's thread writes (driven here by ``flush_writes``);
cycle 1 answers it from the write's verdict. The execution log gets a line
only for a write the device confirmed, so at-most-once holds for real devices.
"""

from __future__ import annotations

from pathlib import Path

from modbus_device import ServerThread, device, edge_document, modbus_device, started
from prometheus_client import generate_latest

from ems.clock import RealClock, VirtualClock
from ems.drivers.modbus.codec import decode, encode
from ems.edge.config import parse_edge_config
from ems.edge.executions import Execution
from ems.edge.metrics import EdgeMetrics
from ems.edge.requests import CommandRequest
from ems.edge.runtime import EdgeRuntime
from ems.timefmt import to_rfc3339

ACK = "ack/battery_1_power"


def battery_inputs() -> dict[int, int]:
    return {
        2: 500,  # Soc 50 %
        **dict(zip((3, 4), encode(5000, "uint32", "big"), strict=True)),  # MaxChargePower
        **dict(zip((5, 6), encode(5000, "uint32", "big"), strict=True)),  # MaxDischargePower
    }


def edge(
    port: int,
    executions: list[Execution],
    config_dir: Path | None = None,
    template: str = "generic_battery",
) -> EdgeRuntime:
    doc = edge_document(modbus_device("battery_1", "battery", template, port), manual=True)
    config = parse_edge_config(doc, config_dir=config_dir)
    return EdgeRuntime(config, RealClock(), executions=executions.append)


def command(rt: EdgeRuntime, command_id: str, power_w: float) -> None:
    now = rt.clock.time()
    verdict = rt.requests.submit(
        CommandRequest(
            command_id,
            "battery_1",
            "set_active_power",
            power_w,
            to_rfc3339(now),
            to_rfc3339(now + 5),
            "test",
        )
    )
    assert verdict.status == "delivered", verdict


def ack(rt: EdgeRuntime) -> dict[str, object] | None:
    sample = rt.store.get_channel(ACK)
    return None if sample is None else sample.value  # type: ignore[return-value]


def ack_with_the_device_gone(
    rt: EdgeRuntime, server: ServerThread, command_id: str, power_w: float
) -> dict[str, object] | None:
    """Stop the device, then apply a command for it (cycle 0), let its driver give the
    write up (retried with backoff) and answer it (cycle 1): the ack."""
    server.stop()
    command(rt, command_id, power_w)
    rt.cycle.run_once(0)
    rt.drivers.runners["battery_1"].flush_writes()
    rt.cycle.run_once(1)
    return ack(rt)


def test_executed_comes_only_after_the_device_took_the_setpoint(
    modbus_server: list[ServerThread],
) -> None:
    server = started(ServerThread(device({}, battery_inputs())), modbus_server)
    executions: list[Execution] = []
    rt = edge(server.port, executions)
    runner = rt.drivers.runners["battery_1"]
    try:
        assert runner.poll_once()
        command(rt, "c-1", -2000)
        rt.cycle.run_once(0)
        assert ack(rt) is None and executions == []  # applied, not yet confirmed
        runner.flush_writes()
        rt.cycle.run_once(1)
        answer = ack(rt)
        assert answer is not None and answer["status"] == "executed", answer
        assert [e.command_id for e in executions] == ["c-1"]
        check = server.client()
        raw = check.read_holding_registers(100, count=2, device_id=1).registers
        check.close()
        assert decode(raw, "int32", "big") == -2000
    finally:
        rt.drivers.stop()


def test_a_refused_write_fails_the_command_with_a_reason(
    modbus_server: list[ServerThread], tmp_path: Path
) -> None:
    # SetActivePower mapped past the device's 100 registers: exception 2 on the write.
    (tmp_path / "bad-setpoint.yaml").write_text(
        "channels:\n"
        "  MaxChargePower: {address: 3, function: input, type: uint32}\n"
        "  MaxDischargePower: {address: 5, function: input, type: uint32}\n"
        "  SetActivePower: {address: 150, function: holding, type: int32, access: write}\n"
    )
    server = started(ServerThread(device({}, battery_inputs(), size=100)), modbus_server)
    executions: list[Execution] = []
    rt = edge(server.port, executions, tmp_path, "bad-setpoint")
    runner = rt.drivers.runners["battery_1"]
    try:
        assert runner.poll_once()
        command(rt, "c-2", 1500)
        rt.cycle.run_once(0)
        runner.flush_writes()
        rt.cycle.run_once(1)
        answer = ack(rt)
        assert answer is not None
        assert (answer["status"], answer["reason"]) == ("failed", "device_write_failed")
        assert "illegal data address" in str(answer["detail"])
        assert executions == []  # never logged as executed
        assert rt.store.get_channel("battery_1/WriteFailures").value >= 1  # type: ignore[union-attr]
        assert rt.cycle.stats.device_write_failures == 1
        metrics = EdgeMetrics(rt)
        scraped = generate_latest(metrics.registry).decode()
        metrics.close()
        assert 'ems_edge_device_write_failures_total{device="battery_1"} 1.0' in scraped
    finally:
        rt.drivers.stop()


def test_a_device_gone_before_the_write_fails_the_command_as_timeout(
    modbus_server: list[ServerThread],
) -> None:
    server = started(ServerThread(device({}, battery_inputs())), modbus_server)
    executions: list[Execution] = []
    rt = edge(server.port, executions)
    runner = rt.drivers.runners["battery_1"]
    try:
        assert runner.poll_once()
        answer = ack_with_the_device_gone(rt, server, "c-3", 1000)
        assert answer is not None
        assert (answer["status"], answer["reason"]) == ("failed", "device_timeout")
        assert executions == []
    finally:
        rt.drivers.stop()


def test_a_newer_value_replaces_an_unsent_one_and_carries_its_command(
    modbus_server: list[ServerThread],
) -> None:
    server = started(ServerThread(device({}, battery_inputs())), modbus_server)
    executions: list[Execution] = []
    rt = edge(server.port, executions)
    runner = rt.drivers.runners["battery_1"]
    try:
        assert runner.poll_once()
        command(rt, "c-4", -1000)
        for k in range(5):  # the device's thread is busy: five cycles queue up
            rt.cycle.run_once(k)
        runner.flush_writes()
        assert runner.writes == 1  # latest value wins: one write, not five
        rt.cycle.run_once(5)
        answer = ack(rt)
        assert answer is not None and answer["status"] == "executed"
        assert [e.command_id for e in executions] == ["c-4"]
    finally:
        rt.drivers.stop()


def test_a_failed_command_is_not_held_and_not_written_when_the_device_is_back(
    modbus_server: list[ServerThread],
) -> None:
    server = started(ServerThread(device({}, battery_inputs())), modbus_server)
    executions: list[Execution] = []
    rt = edge(server.port, executions)
    runner = rt.drivers.runners["battery_1"]
    try:
        assert runner.poll_once()
        answer = ack_with_the_device_gone(rt, server, "c-5", 1800)
        assert answer is not None and answer["status"] == "failed"
        # The device is back: what the cycle sends it now is the idle default, not 1800 W.
        again = started(ServerThread(device({}, battery_inputs()), port=server.port), modbus_server)
        assert runner.poll_once()
        rt.cycle.run_once(2)
        runner.flush_writes()
        check = again.client()
        raw = check.read_holding_registers(100, count=2, device_id=1).registers
        check.close()
        assert decode(raw, "int32", "big") == 0
        assert rt.store.get_channel("battery_1/SetActivePower").value == 0  # type: ignore[union-attr]
        assert executions == []
    finally:
        rt.drivers.stop()


def test_no_verdict_before_the_deadline_fails_the_command_as_timeout(
    modbus_server: list[ServerThread],
) -> None:
    server = started(ServerThread(device({}, battery_inputs())), modbus_server)
    executions: list[Execution] = []
    doc = edge_document(
        modbus_device("battery_1", "battery", "generic_battery", server.port), manual=True
    )
    clock = VirtualClock()
    rt = EdgeRuntime(parse_edge_config(doc), clock, executions=executions.append)
    runner = rt.drivers.runners["battery_1"]
    try:
        assert runner.poll_once()
        command(rt, "c-6", 900)  # deadline: 5 s from now
        rt.cycle.run_once(0)
        clock.advance(5.0)  # the driver's thread never got to the write
        rt.cycle.run_once(1)
        answer = ack(rt)
        assert answer is not None
        assert (answer["status"], answer["reason"]) == ("failed", "device_timeout")
        assert executions == []
    finally:
        rt.drivers.stop()
