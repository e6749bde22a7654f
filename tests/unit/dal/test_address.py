"""Channel address grammar: what ``parse_address`` accepts, and how it refuses the rest."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ems.dal import (
    ACK_PREFIX,
    REQUEST_PREFIX,
    Address,
    Category,
    ack_address,
    parse_address,
    request_address,
)
from ems.dal.address import category_of_command_channel, check_device_id
from ems.errors import ChannelError, InvalidAddress

# --------------------------------------------------------------------------- valid


@pytest.mark.parametrize(
    ("address", "device", "channel"),
    [
        ("battery_1/Soc", "battery_1", "Soc"),
        ("grid/ActivePower", "grid", "ActivePower"),
        ("_sum/ProductionActivePower", "_sum", "ProductionActivePower"),
        ("_cycle/DurationMs", "_cycle", "DurationMs"),
        ("pv_12/SetActivePower", "pv_12", "SetActivePower"),
        ("load/ActivePower", "load", "ActivePower"),
        ("battery_1/MaxChargePower", "battery_1", "MaxChargePower"),
        ("ui_requests/battery_1_power", "ui_requests", "battery_1_power"),
        ("ack/battery_1_power", "ack", "battery_1_power"),
        ("ui_requests/pv_1_power_limit", "ui_requests", "pv_1_power_limit"),
    ],
)
def test_valid_addresses_split_into_device_and_channel(
    address: str, device: str, channel: str
) -> None:
    parsed = parse_address(address)
    assert parsed == Address(device, channel)
    assert parsed.device == device
    assert parsed.channel == channel
    assert str(parsed) == address


def test_longest_allowed_address_is_accepted() -> None:
    address = "d/" + "A" * 126
    assert len(address) == 128
    assert parse_address(address) == Address("d", "A" * 126)


# ------------------------------------------------------------------------- invalid


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("", id="empty"),
        pytest.param("battery_1", id="no-slash"),
        pytest.param("battery_1Soc", id="no-slash-2"),
        pytest.param("/Soc", id="no-device"),
        pytest.param("battery_1/", id="no-channel"),
        pytest.param("battery_1/soc", id="lowercase-channel"),
        pytest.param("battery_1/activePower", id="lower-camel-channel"),
        pytest.param("battery_1/Active_Power", id="underscore-in-channel"),
        pytest.param("Battery_1/Soc", id="uppercase-device"),
        pytest.param("BATTERY/Soc", id="all-caps-device"),
        pytest.param("1battery/Soc", id="device-starts-with-digit"),
        pytest.param("battery__1/Soc", id="double-underscore-device"),
        pytest.param("battery_1_/Soc", id="trailing-underscore-device"),
        pytest.param("__sum/Total", id="double-leading-underscore"),
        pytest.param("battery-1/Soc", id="hyphen-device"),
        pytest.param("battery 1/Soc", id="space-in-device"),
        pytest.param("battery_1/Active Power", id="space-in-channel"),
        pytest.param(" battery_1/Soc", id="leading-space"),
        pytest.param("battery_1/Soc ", id="trailing-space"),
        pytest.param("battery_1/Soc\n", id="trailing-newline"),
        pytest.param("battery_1/Soc\t", id="trailing-tab"),
        pytest.param("battery_1/Soc\x00", id="nul-byte"),
        pytest.param("battery_1 /Soc", id="space-before-slash"),
        pytest.param("../x", id="dot-dot"),
        pytest.param("../Soc", id="dot-dot-upper"),
        pytest.param("battery_1/../Soc", id="traversal-middle"),
        pytest.param("battery_1/Soc/Extra", id="two-slashes"),
        pytest.param("battery_1//Soc", id="double-slash"),
        pytest.param("battery_1\\Soc", id="backslash"),
        pytest.param("battery_1.Soc", id="dot-separator"),
        pytest.param("battery_1/Soc'; DROP TABLE channels;--", id="sql-injection"),
        pytest.param("battery_1/Soc' OR '1'='1", id="sql-tautology"),
        pytest.param("<script>alert(1)</script>/Soc", id="script-device"),
        pytest.param("battery_1/<script>alert(1)</script>", id="script-channel"),
        pytest.param("battery_1/${jndi:ldap://x}", id="template-injection"),
        pytest.param("bättery/Soc", id="non-ascii-device"),
        pytest.param("battery_1/S\u043ec", id="cyrillic-o-in-channel"),
        pytest.param("battery_\u0661/Soc", id="arabic-indic-digit"),
        pytest.param("ui_requests/Soc", id="request-prefix-with-device-channel"),
        pytest.param("ack/ActivePower", id="ack-prefix-with-device-channel"),
        pytest.param("ui_requests/Battery_1_power", id="request-uppercase"),
        pytest.param("ui_requests/battery-1-power", id="request-hyphen"),
        pytest.param("ui_requests/_sum_power", id="request-underscore-led"),
        pytest.param("ui_requests/battery_1_power/x", id="request-extra-slash"),
        pytest.param("ack/", id="ack-empty"),
        pytest.param("ack/battery_1_power ", id="ack-trailing-space"),
    ],
)
def test_malformed_addresses_are_refused_naming_the_address(address: str) -> None:
    with pytest.raises(InvalidAddress) as excinfo:
        parse_address(address)
    message = str(excinfo.value)
    assert "malformed channel address" in message
    assert repr(address) in message  # repr: control characters stay visible


def test_generic_message_explains_the_expected_shapes() -> None:
    with pytest.raises(InvalidAddress, match=r"expected 'device_1/UpperCamel'") as excinfo:
        parse_address("battery_1/soc")
    assert f"'{REQUEST_PREFIX}/device_1_what'" in str(excinfo.value)
    assert f"'{ACK_PREFIX}/device_1_what'" in str(excinfo.value)


@pytest.mark.parametrize("address", ["ui_requests/Soc", "ack/Soc"])
def test_reserved_prefix_with_upper_camel_channel_gets_a_specific_message(
    address: str,
) -> None:
    with pytest.raises(InvalidAddress, match=r"channels are named '.*/device_1_what'"):
        parse_address(address)


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("battery_1/" + "A" * 119, id="129-chars"),
        pytest.param("battery_1/" + "A" * 10_000, id="10k-chars"),
        pytest.param("x" * 1_000_000, id="1M-chars"),
    ],
)
def test_overlong_addresses_are_refused(address: str) -> None:
    assert len(address) > 128
    with pytest.raises(InvalidAddress, match=r"longer than 128 characters") as excinfo:
        parse_address(address)
    # The message quotes a prefix, not the whole (possibly huge) input.
    assert len(str(excinfo.value)) < 200


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (None, "NoneType"),
        (42, "int"),
        (4.2, "float"),
        (b"battery_1/Soc", "bytes"),
        (["battery_1", "Soc"], "list"),
        (Address("battery_1", "Soc"), "Address"),
    ],
)
def test_non_string_addresses_are_refused(value: object, type_name: str) -> None:
    with pytest.raises(InvalidAddress, match=rf"must be a string, got {type_name}$"):
        parse_address(value)  # type: ignore[arg-type]


def test_invalid_address_is_a_channel_error_and_a_value_error() -> None:
    with pytest.raises(ChannelError):
        parse_address("nope")
    with pytest.raises(ValueError, match="malformed channel address 'nope'"):
        parse_address("nope")


# --------------------------------------------------------------- property tests

_DEVICE = r"_?[a-z][a-z0-9]{0,5}(_[a-z0-9]{1,4}){0,2}"
_VALID_DEVICE_ADDRESS = rf"{_DEVICE}/[A-Z][A-Za-z0-9]{{0,12}}"


@given(st.from_regex(_VALID_DEVICE_ADDRESS, fullmatch=True))
def test_every_address_of_the_grammar_round_trips(address: str) -> None:
    device = address.split("/", 1)[0]
    if device in (REQUEST_PREFIX, ACK_PREFIX):  # reserved, cannot carry UpperCamel
        with pytest.raises(InvalidAddress):
            parse_address(address)
        return
    assert str(parse_address(address)) == address


_STRICT = re.compile(
    r"(_?[a-z][a-z0-9]*(_[a-z0-9]+)*/[A-Z][A-Za-z0-9]*"
    r"|(ui_requests|ack)/[a-z][a-z0-9]*(_[a-z0-9]+)*)",
    re.ASCII,
)


@given(
    st.one_of(
        st.text(max_size=40),
        st.text(alphabet="ab_1/AZ .\n", max_size=20),
        st.from_regex(_VALID_DEVICE_ADDRESS, fullmatch=True).map(lambda s: s + "\n"),
    )
)
def test_arbitrary_text_parses_only_if_it_follows_the_grammar(text: str) -> None:
    """Never any exception but InvalidAddress; accepted text is exactly the grammar."""
    try:
        parsed = parse_address(text)
    except InvalidAddress:
        accepted = False
    else:
        accepted = True
        assert str(parsed) == text
    reserved_misuse = bool(re.fullmatch(r"(ui_requests|ack)/[A-Z].*", text))
    assert accepted == (bool(_STRICT.fullmatch(text)) and not reserved_misuse)


# ------------------------------------------------------------ command addresses


def test_request_and_ack_addresses_are_built_from_device_and_action() -> None:
    assert request_address("battery_1", "power") == "ui_requests/battery_1_power"
    assert ack_address("battery_1", "power") == "ack/battery_1_power"
    assert request_address("pv_1", "power_limit") == "ui_requests/pv_1_power_limit"
    assert ack_address("grid", "mode") == "ack/grid_mode"


def test_built_command_addresses_parse_and_carry_their_category() -> None:
    req = request_address("battery_1", "power")
    ack = ack_address("battery_1", "power")
    assert parse_address(req) == Address(REQUEST_PREFIX, "battery_1_power")
    assert parse_address(ack) == Address(ACK_PREFIX, "battery_1_power")
    assert category_of_command_channel(req) is Category.REQUEST
    assert category_of_command_channel(ack) is Category.ACK
    assert category_of_command_channel("battery_1/Soc") is None
    # a device whose id merely starts like a prefix is not a command channel
    assert category_of_command_channel("acks/Soc") is None
    assert category_of_command_channel("ui_requests_1/Soc") is None


@pytest.mark.parametrize("builder", [request_address, ack_address])
@pytest.mark.parametrize(
    "device_id",
    ["", "Battery_1", "battery 1", "../x", "battery_1/Soc", "ui_requests", "ack", None],
)
def test_command_address_refuses_a_bad_device_id(builder, device_id: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidAddress, match=re.escape(f"malformed device id {device_id!r}")):
        builder(device_id, "power")


@pytest.mark.parametrize("builder", [request_address, ack_address])
def test_computed_devices_take_no_commands(builder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidAddress, match="malformed channel address"):
        builder("_sum", "power")


@pytest.mark.parametrize("builder", [request_address, ack_address])
@pytest.mark.parametrize("what", ["", "Power", "set power", "../x", "power/x", "power\n"])
def test_command_address_refuses_a_bad_action(builder, what: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidAddress, match="malformed channel address"):
        builder("battery_1", what)


def test_check_device_id() -> None:
    for ok in ("battery_1", "grid", "load", "_sum", "pv_12", "meter_2_a"):
        assert check_device_id(ok) == ok
    for bad in ("", "Grid", "grid\n", "ui_requests", "ack", "pv-1", "pv__1", None):
        with pytest.raises(InvalidAddress, match="malformed device id"):
            check_device_id(bad)  # type: ignore[arg-type]
