"""Point decoding and the definitions taken from pysunspec2, without a network."""

from __future__ import annotations

import struct

import pytest

from ems.drivers.sunspec import SunSpecError, model_def
from ems.drivers.sunspec.models import PointDef
from ems.drivers.sunspec.points import decode, encode, scale
from ems.drivers.sunspec.reader import decode_model


def _point(type_: str, size_regs: int = 1) -> PointDef:
    return PointDef("P", type_, size_regs, 0, None, False, None, {})


@pytest.mark.parametrize(
    ("type_", "words", "expected"),
    [
        ("int16", [0x8000], None),
        ("int16", [0xFF9C], -100),
        ("uint16", [0xFFFF], None),
        ("uint16", [0xFFFE], 65534),
        ("enum16", [0xFFFF], None),
        ("bitfield16", [0xFFFF], None),
        ("sunssf", [0x8000], None),
        ("sunssf", [0xFFFE], -2),
        ("acc16", [0], None),
        ("int32", [0x8000, 0x0000], None),
        ("int32", [0xFFFF, 0xFFFE], -2),
        ("uint32", [0xFFFF, 0xFFFF], None),
        ("acc32", [0, 0], None),
        ("acc32", [0x0001, 0x0000], 65536),
        ("enum32", [0xFFFF, 0xFFFF], None),
        ("bitfield32", [0xFFFF, 0xFFFF], None),
        ("bitfield32", [0x8000, 0x0001], 0x80000001),
        ("uint64", [0xFFFF] * 4, None),
        ("acc64", [0, 0, 0, 1], 1),
        ("float32", [0x7FC0, 0x0000], None),  # NaN
        ("float32", [0x4049, 0x0FDB], pytest.approx(3.1415927)),
        ("pad", [0x8000], 0x8000),
    ],
)
def test_not_implemented_patterns_decode_to_none(
    type_: str, words: list[int], expected: object
) -> None:
    assert decode(_point(type_, len(words)), words) == expected


def test_strings_are_nul_padded_and_a_leading_nul_is_not_implemented() -> None:
    point = _point("string", 4)
    assert decode(point, [0x4142, 0x4300, 0, 0]) == "ABC"
    assert decode(point, [0x0041, 0, 0, 0]) is None


def test_encoding_round_trips_and_refuses_what_does_not_fit() -> None:
    assert encode(_point("int32", 2), -3000) == [0xFFFF, 0xF448]
    assert decode(_point("int32", 2), encode(_point("int32", 2), -3000)) == -3000
    with pytest.raises(struct.error):
        encode(_point("uint16"), 70000)


def test_scale_factors_apply_and_a_missing_one_gives_none() -> None:
    assert scale(2301, -1) == pytest.approx(230.1)
    assert scale(100, 2) == 10000
    assert scale(2301, None) is None
    assert scale(None, -1) is None


def test_a_point_whose_scale_factor_is_not_implemented_reads_none() -> None:
    defn = model_def(103)
    words = [0] * defn.fixed_regs
    w, w_sf = defn.points["W"], defn.points["W_SF"]
    words[w.offset_regs] = 1500
    words[w_sf.offset_regs] = 0x8000
    assert decode_model(defn, words)["W"] is None
    words[w_sf.offset_regs] = 1
    assert decode_model(defn, words)["W"] == 15000


def test_definitions_come_from_pysunspec2() -> None:
    inverter = model_def(103)
    assert inverter.name == "inverter_three_phase"
    assert inverter.points["W"].sf == "W_SF"
    assert inverter.points["WH"].type == "acc32"
    assert inverter.points["W"].offset_regs == 14
    assert model_def(123).points["WMaxLimPct"].writable
    # 704's fixed sync groups are part of the fixed block, named Group.Point.
    assert model_def(704).points["PFWInj.PF"].sf == "PF_SF"
    assert model_def(704).fixed_regs == 67
    # 705's curves repeat: the fixed block stops before them.
    assert not any(name.startswith("Crv.") for name in model_def(705).points)


def test_a_model_pysunspec2_does_not_define_is_unknown_model() -> None:
    with pytest.raises(SunSpecError) as caught:
        model_def(64999)
    assert caught.value.reason == "unknown_model"
