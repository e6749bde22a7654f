"""Discovery against a real pymodbus server: the marker at each base, and garbage named."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sunspec_server import (
    COMMON,
    CONTROLS_123,
    END,
    INVERTER_103,
    NAMEPLATE_120,
    STORAGE_124,
    SUNS,
    ServeFn,
    model_words,
    sunspec_map,
)

from ems.drivers.sunspec import SunSpecError, discover, open_tcp
from ems.drivers.sunspec.transport import PymodbusRegisters

MODELS = [(1, COMMON), (103, INVERTER_103), (120, NAMEPLATE_120), (123, CONTROLS_123)]


def _regs(port: int, timeout_s: float = 2.0) -> Iterator[PymodbusRegisters]:
    client, regs = open_tcp("127.0.0.1", port, timeout_s=timeout_s)
    try:
        yield regs
    finally:
        client.close()


def discovery_error(port: int, timeout_s: float = 2.0) -> SunSpecError:
    """What ``discover`` raises on the device at ``port``."""
    for regs in _regs(port, timeout_s):
        with pytest.raises(SunSpecError) as caught:
            discover(regs)
    return caught.value


@pytest.mark.parametrize("base", [40000, 0, 50000])
def test_the_marker_is_found_at_each_base_and_the_chain_walked(serve: ServeFn, base: int) -> None:
    server = serve({base: sunspec_map(MODELS)})
    for regs in _regs(server.port):
        smap = discover(regs)
    assert smap.base == base
    assert [(m.model_id, m.name, m.length) for m in smap.models] == [
        (1, "common", 66),
        (103, "inverter_three_phase", 50),
        (120, "nameplate", 26),
        (123, "controls", 24),
    ]
    # Each model starts where the one before it ends (ID and L take two registers).
    assert [m.address for m in smap.models] == [base + 2, base + 70, base + 122, base + 150]


def test_a_lower_base_answering_without_the_marker_is_passed_over(serve: ServeFn) -> None:
    server = serve({0: [0x1234] * 4, 40000: [0] * 4, 50000: sunspec_map(MODELS)})
    for regs in _regs(server.port):
        assert discover(regs).base == 50000


def test_wrong_marker_everywhere_is_sunspec_not_found(serve: ServeFn) -> None:
    wrong = [0x5375, 0x6E54, *sunspec_map(MODELS)[2:]]  # "SunT"
    server = serve({40000: wrong})
    error = discovery_error(server.port)
    assert error.reason == "sunspec_not_found"
    assert "40000, 0, 50000" in error.detail


def test_illegal_address_at_every_base_is_sunspec_not_found(serve: ServeFn) -> None:
    server = serve({1000: sunspec_map(MODELS)})  # nothing served at the three bases
    error = discovery_error(server.port)
    assert error.reason == "sunspec_not_found"


def test_a_model_longer_than_the_map_is_model_truncated(serve: ServeFn) -> None:
    words = [*SUNS, *model_words(1, COMMON), *model_words(103, INVERTER_103)]
    words = words[:-10]  # model 103 declares 50 registers; the device holds 40 of them
    server = serve({40000: words})
    error = discovery_error(server.port)
    assert error.reason == "model_truncated"
    assert "model 103 at 40070 declares 50 registers" in error.detail


def test_a_chain_without_the_end_model_is_model_truncated(serve: ServeFn) -> None:
    server = serve({40000: [*SUNS, *model_words(1, COMMON)]})
    error = discovery_error(server.port)
    assert error.reason == "model_truncated"
    assert "without the end model" in error.detail


def test_a_length_past_the_register_space_is_model_truncated(serve: ServeFn) -> None:
    server = serve({50000: [*SUNS, 64001, 20000, *END]})
    error = discovery_error(server.port)
    assert error.reason == "model_truncated"
    assert "past 65535" in error.detail


def test_an_illegal_address_read_is_a_modbus_exception(serve: ServeFn) -> None:
    server = serve({40000: sunspec_map(MODELS)})
    for regs in _regs(server.port):
        with pytest.raises(SunSpecError) as caught:
            regs.read(30000, 2)
    assert caught.value.reason == "modbus_exception"
    assert "exception code 2" in caught.value.detail  # ILLEGAL DATA ADDRESS


def test_a_device_that_never_answers_is_a_timeout() -> None:
    # A listening socket nobody accepts from: the kernel completes the TCP
    # handshake, then no Modbus answer ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        error = discovery_error(port, timeout_s=0.2)
    assert error.reason == "timeout"


def test_nobody_listening_is_connection_failed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SunSpecError) as caught:
        open_tcp("127.0.0.1", port, timeout_s=0.5)
    assert caught.value.reason == "connection_failed"


def test_storage_models_are_named_from_pysunspec2(serve: ServeFn) -> None:
    server = serve({40000: sunspec_map([(1, COMMON), (124, STORAGE_124), (64001, {})])})
    for regs in _regs(server.port):
        smap = discover(regs)
    assert [(m.model_id, m.name) for m in smap.models][:2] == [
        (1, "common"),
        (124, "storage_basic"),
    ]


def test_a_model_ending_at_the_last_register_leaves_no_room_for_the_end_model(
    serve: ServeFn,
) -> None:
    # 50000 + 2 (marker) + 2 (header) + 15532 = 65536: the model fills the register
    # space to its last address, and nothing (not even the end model) can follow it.
    server = serve({50000: [*SUNS, 64001, 15532, *([0] * 15532)]})
    error = discovery_error(server.port)
    assert error.reason == "model_truncated"
