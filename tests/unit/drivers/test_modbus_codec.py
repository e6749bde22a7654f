"""Registers <-> values, and how a template's reads are grouped into requests."""

from __future__ import annotations

import pytest

from ems.drivers.modbus.codec import decode, encode
from ems.drivers.modbus.driver import plan_reads
from ems.drivers.modbus.template import Function, RegisterMap


@pytest.mark.parametrize(
    ("value", "kind", "order", "words"),
    [
        (-2, "int16", "big", [0xFFFE]),
        (65535, "uint16", "big", [0xFFFF]),
        (-2, "int32", "big", [0xFFFF, 0xFFFE]),
        (-2, "int32", "little", [0xFFFE, 0xFFFF]),
        (0x12345678, "uint32", "big", [0x1234, 0x5678]),
        (0x12345678, "uint32", "little", [0x5678, 0x1234]),
        (1.5, "float32", "big", [0x3FC0, 0x0000]),
        (1.5, "float32", "little", [0x0000, 0x3FC0]),
    ],
)
def test_words_of_each_type_and_order(
    value: float, kind: str, order: str, words: list[int]
) -> None:
    assert encode(value, kind, order) == words  # type: ignore[arg-type]
    assert decode(words, kind, order) == value  # type: ignore[arg-type]


def test_a_value_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="uint16"):
        encode(-1, "uint16", "big")


def test_neighbouring_registers_share_a_request_and_far_ones_do_not() -> None:
    template = RegisterMap.model_validate(
        {
            "channels": {
                "ActivePower": {"address": 0, "function": "input", "type": "int32"},
                "Soc": {"address": 3, "function": "input"},
                "Capacity": {"address": 300, "function": "input", "type": "uint32"},
                "Voltage": {"address": 10, "function": "holding", "scale_factor": 11},
                "SetActivePower": {"address": 100, "function": "holding", "access": "write"},
            }
        }
    )
    blocks = {(b.function, b.address, b.count) for b in plan_reads(template)}
    assert blocks == {
        (Function.INPUT, 0, 4),
        (Function.INPUT, 300, 2),
        (Function.HOLDING, 10, 2),  # the value and its scale factor; the setpoint is not read
    }


def test_a_block_never_exceeds_125_registers() -> None:
    channels = {f"C{i}": {"address": i * 5, "function": "input"} for i in range(60)}
    blocks = plan_reads(RegisterMap.model_validate({"channels": channels}))
    assert all(b.count <= 125 for b in blocks)
    assert sum(len(b.channels) for b in blocks) == 60
