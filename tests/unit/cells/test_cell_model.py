"""Cell physics: the cited OCV curves, the RC pairs, hysteresis, heat and ageing."""

from __future__ import annotations

import math

import pytest

from ems.cells import EcmState, PackModel, chemistry
from ems.cells.ageing import Ageing
from ems.cells.ecm import arrhenius_factor
from ems.cells.thermal import LumpedThermal

LFP = chemistry("lfp")
NMC = chemistry("nmc")


def test_ocv_interpolates_between_the_published_breakpoints() -> None:
    # Halfway along LFP's plateau segment (29.72 % .. 98.33 %: 3.2772 V .. 3.3511 V).
    mid = (0.2972 + 0.9833) / 2
    assert LFP.ocv_v(mid) == pytest.approx((3.2772 + 3.3511) / 2)
    assert LFP.ocv_v(-0.1) == 2.0102 and LFP.ocv_v(1.2) == 3.5981  # held past the ends
    assert NMC.ocv_v(1.0) == 4.2


def test_lfp_is_flat_where_nmc_is_not() -> None:
    """The hard case: a 16-cell LFP pack moves ~17 mV per % on its plateau."""
    lfp_pack_v_per_pct = 16 * LFP.docv_dsoc_v(0.6) / 100
    nmc_pack_v_per_pct = 14 * NMC.docv_dsoc_v(0.6) / 100
    assert lfp_pack_v_per_pct == pytest.approx(0.0172, abs=0.001)
    assert nmc_pack_v_per_pct > 5 * lfp_pack_v_per_pct


def test_ocv_falls_with_temperature_by_the_entropic_coefficient() -> None:
    assert LFP.ocv_v(0.5, 35.0) - LFP.ocv_v(0.5, 25.0) == pytest.approx(-1e-3)


def test_unknown_chemistry_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: lfp, nmc"):
        chemistry("lto")


def test_a_current_step_drops_r0_at_once_then_the_rc_pairs_relax_in() -> None:
    pack = PackModel(LFP, 16, 100.0)  # the reference cell: pack R = 16 x cell R
    state = EcmState(soc=0.6)
    ocv = pack.ocv_v(0.6, 25.0)
    assert pack.terminal_v(state, 100.0, 25.0) == pytest.approx(ocv - 100 * 16 * 0.6e-3)
    pack.advance(state, 100.0, 20.0, 25.0, 100.0)  # one tau1
    assert state.v1_v == pytest.approx((1 - math.exp(-1)) * 100 * 16 * 0.3e-3)
    assert state.soc == pytest.approx(0.6 - 100 * 20 / 3600 / 100)
    for _ in range(1000):  # long after: both pairs settled at R·I
        pack.advance(state, 100.0, 20.0, 25.0, 1e9)
    assert state.v2_v == pytest.approx(100 * 16 * 0.3e-3, rel=1e-3)


def test_hysteresis_moves_toward_minus_m_discharging_and_plus_m_charging() -> None:
    pack = PackModel(LFP, 16, 100.0)
    state = EcmState(soc=0.6)
    pack.advance(state, 100.0, 360.0, 25.0, 100.0)  # 10 % of SOC: gamma 30 -> e^-3 kept
    assert state.h_v == pytest.approx(-pack.hysteresis_v * (1 - math.exp(-3.0)))
    for _ in range(5):
        pack.advance(state, -100.0, 360.0, 25.0, 100.0)
    assert 0 < state.h_v <= pack.hysteresis_v


def test_resistance_rises_when_cold() -> None:
    assert arrhenius_factor(20_000.0, 25.0) == pytest.approx(1.0)
    assert arrhenius_factor(20_000.0, 0.0) > 1.9


def test_thermal_settles_at_ambient_plus_heat_over_conductance() -> None:
    thermal = LumpedThermal(60_000.0, 10.0, 20.0)
    thermal.advance(50.0, 20.0, 6000.0)  # one time constant
    assert thermal.temperature_c == pytest.approx(25.0 - 5.0 * math.exp(-1))


def test_ageing_fades_with_throughput_and_time_and_grows_resistance() -> None:
    ageing = Ageing(LFP, capacity_ah=100.0)
    ageing.advance(100.0, 2 * 3600.0 * 6000, 25.0)  # 6000 full cycles' throughput (and ~500 d)
    assert ageing.fade > 0.2
    assert ageing.resistance_growth == pytest.approx(2.0 * ageing.fade)
    fast = Ageing(LFP, acceleration=10.0, capacity_ah=100.0)
    slow = Ageing(LFP, capacity_ah=100.0)
    for a in (fast, slow):
        a.advance(0.0, 86_400.0, 35.0)
    assert fast.fade == pytest.approx(slow.fade * math.sqrt(10.0))
