"""A ``can_bms`` device's params are checked against its DBC at start, the field named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from bms_bus import WAIT_S, VirtualBms, bms_document, fresh_channel

from ems.clock import VirtualClock
from ems.drivers.can_bms import CanBmsDriver
from ems.edge.config import load_edge_config, parse_edge_config
from ems.edge.runtime import EdgeRuntime
from ems.errors import ConfigError

EXAMPLE = Path(__file__).parents[4] / "src/ems/drivers/can_bms/example.yaml"

#: A BMS of another make: extended ids, its own names and scaling, charge current > 0.
OWN_DBC = """\
VERSION ""

NS_ :

BS_:

BU_: Pack EMS

BO_ 2566869221 PackInfo: 8 Pack
 SG_ StateOfCharge : 0|8@1+ (0.4,0) [0|100] "%" EMS
 SG_ Volts : 8|16@1+ (0.02,0) [0|1300] "V" EMS
 SG_ Amps : 24|16@1- (0.05,0) [-1600|1600] "A" EMS

BO_ 2566869477 PackLimits: 4 Pack
 SG_ ChgLim : 0|16@1+ (0.1,0) [0|6500] "A" EMS
 SG_ DchgLim : 16|16@1+ (0.1,0) [0|6500] "A" EMS
"""
OWN_SIGNALS = {
    "soc_pct": "PackInfo.StateOfCharge",
    "voltage_v": "PackInfo.Volts",
    "current_a": "PackInfo.Amps",
    "charge_limit_a": "PackLimits.ChgLim",
    "discharge_limit_a": "PackLimits.DchgLim",
    "min_cell_temp_c": None,
    "max_cell_temp_c": None,
}


def build(document: dict[str, object], config_dir: Path | None = None) -> EdgeRuntime:
    return EdgeRuntime(parse_edge_config(document, config_dir=config_dir), VirtualClock())


def refused(config_dir: Path | None = None, **params: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        build(bms_document("unused", **params), config_dir)
    return str(caught.value)


def test_a_missing_dbc_file_names_the_field(tmp_path: Path) -> None:
    message = refused(tmp_path, dbc="my-bms.dbc")
    assert message.startswith("devices[0].params.dbc: no file ")
    assert "my-bms.dbc" in message and "generic_bms" in message


def test_a_file_that_is_no_dbc_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "bad.dbc").write_text("BO_ this is not a DBC\n")
    assert refused(tmp_path, dbc="bad.dbc").startswith(
        "devices[0].params.dbc: bad.dbc is not a valid DBC file"
    )


def test_an_unknown_message_names_the_signal_key_and_the_known_messages() -> None:
    message = refused(signals={"soc_pct": "BMS_Nope.SOC"})
    assert message.startswith("devices[0].params.signals.soc_pct: no message 'BMS_Nope'")
    assert "generic_bms.dbc" in message and "BMS_Status" in message


def test_an_unknown_signal_names_the_signal_key_and_the_known_signals() -> None:
    message = refused(signals={"voltage_v": "BMS_Pack.Volts"})
    assert message.startswith("devices[0].params.signals.voltage_v: no signal 'Volts'")
    assert "PackCurrent, PackVoltage" in message


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"signals": {"soc_pct": "SOC"}}, "signals.soc_pct"),  # not Message.Signal
        ({"signals": {"soc": "BMS_Status.SOC"}}, "signals.soc"),  # unknown quantity
        ({"signals": {"charge_limit_a": None}}, "signals.charge_limit_a"),  # required
        ({"interface": "sockcan"}, "interface"),
        ({"silence_s": 0}, "silence_s"),
        ({"current_positive": "up"}, "current_positive"),
    ],
)
def test_params_are_validated_with_the_field_named(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"devices\[0\]\.params\.{field}: "):
        parse_edge_config(bms_document("unused", **params))


def test_a_bms_fills_a_battery_not_another_profile() -> None:
    document = bms_document("unused")
    device = document["devices"][0]  # type: ignore[index]
    device["profile"] = "pv_inverter"
    with pytest.raises(ConfigError, match=r"devices\[0\]\.profile: .*lacks Soc"):
        build(document)


def test_a_bms_of_another_make_is_read_through_its_own_dbc(tmp_path: Path) -> None:
    (tmp_path / "pack.dbc").write_text(OWN_DBC)
    channel = fresh_channel()
    document = bms_document(
        channel, dbc="pack.dbc", signals=OWN_SIGNALS, current_positive="charging"
    )
    rt = build(document, tmp_path)
    bms = VirtualBms(channel, tmp_path / "pack.dbc")
    runner = rt.drivers.runners["battery_1"]
    driver = runner.driver
    assert isinstance(driver, CanBmsDriver)
    try:
        assert "MaxCellTemperature" not in driver.extra_channels()  # this BMS has none
        driver.connect()
        bms.send("PackInfo", {"StateOfCharge": 80.0, "Volts": 51.2, "Amps": 20.0})
        bms.send("PackLimits", {"ChgLim": 100.0, "DchgLim": 150.0})
        assert driver.frames.wait_for_frames(2, WAIT_S)
        assert runner.poll_once()

        def value(name: str) -> object:
            sample = rt.store.get_channel(f"battery_1/{name}")
            return None if sample is None else sample.value

        assert value("Soc") == pytest.approx(80.0)
        assert value("Current") == pytest.approx(-20.0)  # charging, in the battery's sign
        assert value("MaxChargePower") == pytest.approx(100.0 * 51.2)
        assert value("MaxDischargePower") == pytest.approx(150.0 * 51.2)
        assert value("ReadErrors") == 0
    finally:
        rt.drivers.stop()
        bms.close()


def test_the_example_site_loads_and_builds() -> None:
    config = load_edge_config(EXAMPLE)
    [battery] = [d for d in config.devices if d.id == "battery_1"]
    assert battery.driver == "can_bms"
    rt = EdgeRuntime(config, VirtualClock())  # no I/O until the first poll
    try:
        assert rt.store.info("battery_1/Voltage").unit == "V"
    finally:
        rt.drivers.stop()
    assert yaml.safe_load(EXAMPLE.read_text())["devices"][0]["params"]["interface"] == "socketcan"
