"""The SOC EKF: a step checked by hand, convergence from a wrong start, a voltage
dropout, a voltage spike, and a filter that is itself wrong."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import pytest

from ems.cells import chemistry
from ems.dal import Sample
from ems.devices.base import SiteContext
from ems.devices.battery_ecm import EcmBatteryConfig, EcmBatterySimulator
from ems.estimation import EkfConfig
from ems.estimation.ekf import SocEkf

SITE = SiteContext(52.52, 13.405, 34.0, "UTC")
T0 = 1_775_001_600.0
STEP_S = 10.0


def test_one_correction_at_rest_checked_by_hand() -> None:
    """At zero measured current SOC, the RC voltages, the hysteresis and the sensor's
    bias (a bias b means -b A really flow: R0·b volts) explain the voltage, each in
    proportion to its variance: the SOC's share of a 0.1 V surprise is
    ``s·σ²_soc / (s²·σ²_soc + σ²_v1 + σ²_v2 + σ²_h + R0²·σ²_b + σ²_V)``."""
    config = EkfConfig(chemistry="lfp", initial_soc_std_pct=10.0, voltage_noise_v=0.05)
    ekf = SocEkf(config, initial_soc_pct=60.0)
    # 16 LFP cells on the plateau segment (29.72 %: 3.2772 V .. 98.33 %: 3.3511 V).
    slope_v = 16 * (3.3511 - 3.2772) / (0.9833 - 0.2972)  # V per unit SOC, ~1.72
    ocv_v = 16 * (3.2772 + slope_v / 16 * (0.60 - 0.2972))
    m_v = 16 * 0.010  # hysteresis bound of the pack
    r0_ohm = 16 * 0.6e-3 * 100 / (10_000 / (16 * 3.2))  # 16 cells of 195.3 Ah
    s_var = slope_v**2 * 0.10**2 + 1e-4 + 1e-4 + m_v**2 / 3 + (r0_ohm * 2.0) ** 2 + 0.05**2
    gain = slope_v * 0.10**2 / s_var

    assert ekf.update(ocv_v + 0.1, 0.0, 25.0) is True

    assert ekf.soc_pct == pytest.approx(60.0 + 100 * gain * 0.1, rel=1e-9)
    assert ekf.soc_std_pct == pytest.approx(100 * math.sqrt(0.10**2 - gain**2 * s_var), rel=1e-9)


def test_prediction_counts_charge_with_the_learned_bias_removed() -> None:
    config = EkfConfig(chemistry="nmc", capacity_wh=100 * 14 * 3.65)  # 100 Ah
    ekf = SocEkf(config, initial_soc_pct=50.0)
    ekf.x[5] = 2.0  # the sensor reads 2 A high
    ekf.predict(22.0, 3600.0, 25.0)  # measured 22 A for an hour: 20 Ah of 100 really moved
    assert ekf.soc_pct == pytest.approx(30.0, abs=1e-9)


def _cycle_w(t_s: float) -> float:
    """A day-like duty: 2 h discharge at 2.5 kW, 1 h rest, 2 h charge at 3 kW, 1 h rest."""
    phase_h = (t_s / 3600.0) % 6.0
    if phase_h < 2:
        return 2500.0
    if 3 <= phase_h < 5:
        return -3000.0
    return 0.0


def _drive(sim: EcmBatterySimulator, hours: float) -> Iterator[tuple[float, dict[str, float]]]:
    """(t, channels) every STEP_S while the simulator follows the duty cycle."""
    out = sim.step(T0, 0.0, {})
    for k in range(1, int(hours * 3600 / STEP_S) + 1):
        t = T0 + k * STEP_S
        out = sim.step(t, STEP_S, {"SetActivePower": Sample(_cycle_w(t - T0), t)})
        yield t, {n: float(v) for n, v in out.items() if isinstance(v, int | float)}


@pytest.mark.parametrize("chem", ["lfp", "nmc"])
def test_it_converges_from_a_start_20_points_off(chem: str) -> None:
    sim = EcmBatterySimulator(
        "battery_1",
        EcmBatteryConfig(chemistry=chem, initial_soc_pct=50.0, bms_error={"current_bias_a": 0.3}),
        SITE,
    )
    ekf = SocEkf(EkfConfig(chemistry=chem), initial_soc_pct=70.0)
    assert ekf.soc_pct - sim.soc_true_pct == pytest.approx(20.0)
    errors = []
    for _, ch in _drive(sim, 12.0):
        ekf.predict(ch["Current"], STEP_S, ch["Temperature"])
        ekf.update(ch["Voltage"], ch["Current"], ch["Temperature"])
        errors.append(ekf.soc_pct - ch["SocTrue"])
    last_6h = errors[len(errors) // 2 :]
    assert max(abs(e) for e in last_6h) < 2.0
    assert ekf.soc_std_pct < 2.0  # and it knows it


def test_a_voltage_dropout_widens_the_spread_and_the_estimate_follows_the_count() -> None:
    sim = EcmBatterySimulator("battery_1", EcmBatteryConfig(chemistry="nmc"), SITE)
    ekf = SocEkf(EkfConfig(chemistry="nmc"), initial_soc_pct=50.0)
    steps = list(_drive(sim, 9.0))
    dropout = range(len(steps) // 3, 2 * len(steps) // 3)  # 3 h without voltage
    stds = []
    for i, (_, ch) in enumerate(steps):
        ekf.predict(ch["Current"], STEP_S, ch["Temperature"])
        if i not in dropout:
            ekf.update(ch["Voltage"], ch["Current"], ch["Temperature"])
        stds.append(ekf.soc_std_pct)
        if i == dropout[-1]:
            # Carried by the count alone, which errs with the pack's unknown capacity
            # (2 % under nameplate), and the filter says so.
            assert abs(ekf.soc_pct - ch["SocTrue"]) < min(3 * ekf.soc_std_pct, 5.0)
    during = stds[dropout[0] : dropout[-1]]
    assert all(b >= a for a, b in itertools.pairwise(during))  # it only grows
    assert stds[-1] < during[-1]  # and shrinks once the voltage is back
    assert abs(ekf.soc_pct - steps[-1][1]["SocTrue"]) < 1.0


@pytest.mark.parametrize("spike_v", [5.0, -30.0])
def test_a_voltage_spike_is_rejected_and_moves_nothing(spike_v: float) -> None:
    sim = EcmBatterySimulator("battery_1", EcmBatteryConfig(chemistry="lfp"), SITE)
    ekf = SocEkf(EkfConfig(chemistry="lfp"), initial_soc_pct=50.0)
    steps = list(_drive(sim, 4.0))
    for _, ch in steps[:-1]:
        ekf.predict(ch["Current"], STEP_S, ch["Temperature"])
        ekf.update(ch["Voltage"], ch["Current"], ch["Temperature"])
    _, last = steps[-1]
    ekf.predict(last["Current"], STEP_S, last["Temperature"])
    before = ekf.soc_pct
    assert ekf.update(last["Voltage"] + spike_v, last["Current"], last["Temperature"]) is False
    assert ekf.soc_pct == before
    assert ekf.rejected_total == 1


def test_a_confident_but_wrong_filter_believes_the_voltage_after_max_rejections() -> None:
    config = EkfConfig(chemistry="nmc", initial_soc_std_pct=0.1, max_rejections=5)
    ekf = SocEkf(config, initial_soc_pct=80.0)
    true_ocv_v = 14 * chemistry("nmc").ocv_v(0.4)  # at rest, really at 40 %
    verdicts = [ekf.update(true_ocv_v, 0.0, 25.0) for _ in range(6)]
    assert verdicts == [False] * 5 + [True]
    assert ekf.soc_pct < 80.0 - 0.1  # it moved once it gave in
