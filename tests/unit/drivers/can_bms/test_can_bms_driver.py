"""A CAN BMS on python-can's virtual bus: its frames become the battery's channels.

The BMS is a second bus on the same virtual channel sending frames that
cantools encodes from the shipped DBC; the edge runs on a virtual clock and
the test drives its driver's polls with ``DriverRunner.poll_once()``.
"""

from __future__ import annotations

import can
import pytest
from bms_bus import BmsEdge, start_bms_edge

from ems.dal import Value
from ems.drivers.can_bms import CanBmsDriver
from ems.drivers.host import DriverRunner
from ems.errors import DeviceRefused
from ems.profiles import Limits, Problem, dynamic_limits


def limits(edge: BmsEdge) -> Limits | Problem:
    action = edge.rt.devices["battery_1"].actions["set_active_power"]

    def lookup(channel: str) -> tuple[object, float] | None:
        sample = edge.rt.store.get_channel(f"battery_1/{channel}")
        return None if sample is None else (sample.value, sample.ts)

    return dynamic_limits(action, lookup, edge.clock.time())


def test_frames_are_decoded_and_scaled_into_the_battery_channels(bms_edge: BmsEdge) -> None:
    bms_edge.bms.send_all()
    bms_edge.landed()
    assert bms_edge.runner.poll_once()
    got = {
        name: bms_edge.value(name)
        for name in (
            "Soc",
            "Voltage",
            "Current",
            "MinCellTemperature",
            "MaxCellTemperature",
            "MaxChargeCurrent",
            "MaxDischargeCurrent",
            "MaxChargePower",
            "MaxDischargePower",
            "CommunicationFailed",
        )
    }
    assert got == {
        "Soc": pytest.approx(55.5),
        "Voltage": pytest.approx(400.0),
        "Current": pytest.approx(-10.0),  # charging, as the BMS says: > 0 is discharging
        "MinCellTemperature": pytest.approx(20.5),
        "MaxCellTemperature": pytest.approx(25.0),
        "MaxChargeCurrent": pytest.approx(25.0),
        "MaxDischargeCurrent": pytest.approx(30.0),
        "MaxChargePower": pytest.approx(25.0 * 400.0),
        "MaxDischargePower": pytest.approx(30.0 * 400.0),
        "CommunicationFailed": False,
    }
    assert bms_edge.rt.store.info("battery_1/Voltage").unit == "V"
    assert bms_edge.rt.store.info("battery_1/MaxCellTemperature").unit == "°C"
    # A BMS does not measure AC power: nothing is passed off as the inverter's.
    assert bms_edge.rt.store.get_channel("battery_1/ActivePower") is None


def test_the_bms_current_limits_bound_the_battery_setpoint(bms_edge: BmsEdge) -> None:
    bms_edge.bms.send_all()
    bms_edge.landed()
    assert bms_edge.runner.poll_once()
    assert limits(bms_edge) == Limits(-10_000.0, 12_000.0)
    # Near full the BMS derates charging; near empty, discharging.
    bms_edge.bms.send(
        "BMS_Limits",
        {
            "ChargeCurrentLimit": 2.5,
            "DischargeCurrentLimit": 0.0,
            "ChargeVoltageLimit": 420.0,
            "DischargeVoltageLimit": 350.0,
        },
    )
    bms_edge.landed()
    bms_edge.clock.advance(1.0)
    assert bms_edge.runner.poll_once()
    got = limits(bms_edge)
    assert isinstance(got, Limits)
    assert got.min == pytest.approx(-1_000.0) and got.max == pytest.approx(0.0)


def test_a_silent_bus_is_a_communication_failure_and_recovers_without_restart() -> None:
    # A poll of a silent bus listens this long (real time) for a frame: it is how the
    # driver notices a BMS that came back, so it must outlast the sender's period.
    edge = start_bms_edge(timeout_s=1.0)
    try:
        edge.bms.send_all()
        edge.landed()
        assert edge.runner.poll_once()
        soc_ts = edge.get("Soc").ts

        edge.clock.advance(2.0)  # quiet, but within silence_s (3 s): not a failure
        assert edge.runner.poll_once()
        assert edge.value("CommunicationFailed") is False
        assert edge.get("Soc").ts == soc_ts  # no new frame, nothing republished as new
        edge.clock.advance(2.0)  # 4 s without a frame
        assert not edge.runner.poll_once()
        assert edge.value("CommunicationFailed") is True
        assert edge.get("Soc").ts == soc_ts
        edge.clock.advance(30.0)
        stale = limits(edge)
        assert isinstance(stale, Problem) and stale.reason == "stale_telemetry"

        # The BMS is back; the host's next poll reopens the bus it closed and hears it.
        with edge.bms.broadcasting(BMS_Status={"SOC": 60.0}):
            assert edge.runner.poll_once()
        assert edge.value("CommunicationFailed") is False
        assert edge.value("Soc") == pytest.approx(60.0)
        assert edge.get("Soc").ts > soc_ts
    finally:
        edge.close()


def test_a_bms_that_never_spoke_is_a_communication_failure(bms_edge: BmsEdge) -> None:
    assert not bms_edge.runner.poll_once()
    assert bms_edge.value("CommunicationFailed") is True
    assert bms_edge.rt.store.get_channel("battery_1/Soc") is None


def test_other_nodes_on_the_bus_do_not_keep_a_silent_bms_alive(bms_edge: BmsEdge) -> None:
    bms_edge.bms.send_all()
    bms_edge.landed()
    assert bms_edge.runner.poll_once()
    bms_edge.clock.advance(4.0)
    bms_edge.bms.send_foreign(0x200, bytes(8))  # an inverter's frame, say
    bms_edge.bms.send_foreign(0x100, bytes(8), extended=True)  # same number, other id space
    assert not bms_edge.runner.poll_once()
    assert bms_edge.value("CommunicationFailed") is True


def test_a_malformed_frame_is_a_refusal_not_a_crash(bms_edge: BmsEdge) -> None:
    bms_edge.bms.send_all()
    bms_edge.landed()
    assert bms_edge.runner.poll_once()
    pack_ts = bms_edge.get("Voltage").ts

    bms_edge.bms.send_raw(0x101, b"\x01")  # BMS_Pack, 1 byte instead of 8
    bms_edge.bms.send_all(BMS_Pack={}, BMS_Status={"SOC": 56.0})
    bms_edge.bms.send_raw(0x101, b"\x01\x02")  # and again, after a good one
    bms_edge.landed()
    bms_edge.clock.advance(1.0)
    assert bms_edge.runner.poll_once()  # the BMS answered, with garbage in one message
    assert bms_edge.value("CommunicationFailed") is False
    assert bms_edge.value("Soc") == pytest.approx(56.0)
    # The pack's channels and the powers computed from its voltage stay stale.
    assert bms_edge.get("Voltage").ts == pack_ts
    assert bms_edge.get("MaxChargePower").ts == pack_ts
    assert bms_edge.value("ReadErrors") == 4  # Voltage, Current, MaxChargePower, MaxDischargePower
    assert bms_edge.driver.frames.bad_frames == 2

    bms_edge.bms.send("BMS_Pack", {"PackVoltage": 410.0, "PackCurrent": 5.0})
    bms_edge.landed()
    bms_edge.clock.advance(1.0)
    assert bms_edge.runner.poll_once()
    assert bms_edge.value("Voltage") == pytest.approx(410.0)
    assert bms_edge.value("MaxDischargePower") == pytest.approx(30.0 * 410.0)


def test_a_soc_outside_0_to_100_is_refused(bms_edge: BmsEdge) -> None:
    bms_edge.bms.send_all()
    bms_edge.landed()
    assert bms_edge.runner.poll_once()
    bms_edge.bms.send_raw(0x100, (1200).to_bytes(2, "little") + bytes(6))  # 120.0 %
    bms_edge.landed()
    bms_edge.clock.advance(1.0)
    assert bms_edge.runner.poll_once()
    assert bms_edge.value("Soc") == pytest.approx(55.5)  # the last believable one, stale
    assert bms_edge.value("ReadErrors") == 1


def test_a_message_gone_quiet_leaves_only_its_channels_stale(bms_edge: BmsEdge) -> None:
    bms_edge.bms.send_all()
    bms_edge.landed()
    assert bms_edge.runner.poll_once()
    limits_ts = bms_edge.get("MaxChargePower").ts
    bms_edge.clock.advance(4.0)
    bms_edge.bms.send("BMS_Status", {"SOC": 57.0, "SOH": 98.0, "State": 2})
    bms_edge.bms.send("BMS_Pack", {"PackVoltage": 400.0, "PackCurrent": 3.0})
    bms_edge.landed()
    assert bms_edge.runner.poll_once()
    assert bms_edge.value("Soc") == pytest.approx(57.0)
    assert bms_edge.get("MaxChargePower").ts == limits_ts
    assert bms_edge.get("MaxCellTemperature").ts == limits_ts


def test_a_setpoint_sent_to_the_bms_fails_with_a_reason(bms_edge: BmsEdge) -> None:
    assert bms_edge.driver.writable() == frozenset()
    bms_edge.runner.submit({"SetActivePower": -1000.0}, {"SetActivePower": ["cmd-1"]})
    [outcome] = bms_edge.runner.outcomes()
    assert (outcome.command_id, outcome.ok, outcome.reason) == (
        "cmd-1",
        False,
        "device_write_failed",
    )


def test_current_positive_when_charging_is_turned_into_the_battery_sign() -> None:
    edge = start_bms_edge(current_positive="charging", active_power_from_dc=True)
    try:
        edge.bms.send_all(BMS_Pack={"PackCurrent": 12.5})  # charging, in this BMS's sign
        edge.landed()
        assert edge.runner.poll_once()
        assert edge.value("Current") == pytest.approx(-12.5)
        assert edge.value("ActivePower") == pytest.approx(-12.5 * 400.0)
    finally:
        edge.close()


def test_an_interface_that_cannot_open_is_no_answer_and_is_tried_again() -> None:
    edge = start_bms_edge()
    try:
        opened = 0

        def broken() -> can.BusABC:
            nonlocal opened
            opened += 1
            raise can.CanInitializationError("no such device can9")

        config, profile = edge.driver.config, edge.driver.profile
        driver = CanBmsDriver("battery_1", config, profile, edge.driver.context, open_bus=broken)
        runner = DriverRunner(driver, edge.rt.store, edge.clock)
        assert not runner.poll_once()
        assert not runner.poll_once()
        assert opened == 2
        assert edge.value("CommunicationFailed") is True
    finally:
        edge.close()


class UnpluggedBus(can.BusABC):
    """A bus whose adapter is gone: every receive fails."""

    def __init__(self) -> None:
        super().__init__(channel="can9")

    def _recv_internal(self, timeout: float | None) -> tuple[None, bool]:
        raise can.CanOperationError("adapter unplugged")

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        raise can.CanOperationError("adapter unplugged")


def test_a_bus_that_fails_under_the_reader_is_no_answer_and_is_reopened() -> None:
    edge = start_bms_edge()
    try:
        opened: list[UnpluggedBus] = []

        def unplugged() -> can.BusABC:
            opened.append(UnpluggedBus())
            return opened[-1]

        config, profile = edge.driver.config, edge.driver.profile
        driver = CanBmsDriver("battery_1", config, profile, edge.driver.context, open_bus=unplugged)
        runner = DriverRunner(driver, edge.rt.store, edge.clock)
        assert not runner.poll_once()
        assert not runner.poll_once()
        assert len(opened) == 2  # closed after each failure, opened again by the next poll
        assert driver.frames.state().bus_error == "adapter unplugged"
        assert edge.value("CommunicationFailed") is True
        runner.stop()
    finally:
        edge.close()


def test_write_refuses_with_the_channel_named(bms_edge: BmsEdge) -> None:
    value: Value = 500.0
    with pytest.raises(DeviceRefused, match=r"SetActivePower.*read-only"):
        bms_edge.driver.write("SetActivePower", value)
