"""Health and predictive alarms: trends with a confidence, and an accelerated-ageing
pack whose end-of-life alarm rises days before its SOH crosses 80 %, not before the
trend supports it."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import pytest

from ems.dal import Sample, Snapshot
from ems.devices.base import SiteContext
from ems.devices.battery_ecm import EcmBatteryConfig, EcmBatterySimulator
from ems.estimation import EkfConfig
from ems.estimation.health import HealthTracker, Prediction
from ems.estimation.stage import SocEstimators
from ems.estimation.trend import fit_trend

SITE = SiteContext(52.5, 13.4, 0.0, "UTC")
T0 = 1_775_001_600.0
STEP_S = 60.0
B = "battery_1"


def test_a_clean_line_is_certain_and_flat_noise_is_not() -> None:
    xs = [float(x) for x in range(50)]
    line = fit_trend(xs, [3.0 - 0.5 * x for x in xs])
    assert line is not None
    assert line.slope == pytest.approx(-0.5) and line.confidence == 1.0
    assert line.reaches(-7.0, after_x=10.0) == pytest.approx(10.0)
    rng = random.Random(1)
    flat = fit_trend(xs, [rng.gauss(0.0, 1.0) for _ in xs])
    assert flat is not None and flat.confidence < 0.9
    assert fit_trend([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None  # no spread in x


def _tracker(**config: object) -> HealthTracker:
    return HealthTracker(EkfConfig.model_validate(config), max_temperature_c=55.0)


def test_a_temperature_climbing_towards_its_limit_is_predicted_with_its_evidence() -> None:
    tracker = _tracker()
    for k in range(31):  # 30 min at +0.25 °C/min from 35 °C: 42.5 °C now, 55 °C in 50 min
        tracker.observe(T0 + 60.0 * k, 1.0, 1.0, 35.0 + 0.25 * k)
    [heat] = tracker.predictions()
    assert heat.kind == "temperature_rising"
    assert heat.value == pytest.approx(50 * 60.0)
    assert heat.evidence["rise_c_per_h"] == pytest.approx(15.0)
    assert heat.confidence > 0.99


def test_a_warm_but_steady_pack_raises_nothing() -> None:
    tracker = _tracker()
    rng = random.Random(2)
    for k in range(31):
        tracker.observe(T0 + 60.0 * k, 1.0, 1.0, 50.0 + rng.gauss(0.0, 0.3))
    assert tracker.predictions() == []


def test_a_rise_that_reaches_the_limit_beyond_the_warning_horizon_waits() -> None:
    tracker = _tracker()
    for k in range(31):  # +0.1 °C/min, 38 °C now: the limit in 170 min, beyond the hour
        tracker.observe(T0 + 60.0 * k, 1.0, 1.0, 35.0 + 0.1 * k)
    assert tracker.predictions() == []


def _duty_w(t_s: float) -> float:
    """Four cycles a day: 2 h discharge at 2.5 kW, rest, 2 h charge at 3 kW, rest."""
    phase_h = (t_s / 3600.0) % 6.0
    if phase_h < 2:
        return 2500.0
    if 3 <= phase_h < 5:
        return -3000.0
    return 0.0


@dataclass
class AgeingRun:
    cross_day: float | None  # the true SOH below 80 % of nameplate
    first: dict[str, tuple[float, Prediction]]  # kind -> (day, prediction) first predicted
    channels: dict[str, object]  # what the stage published when end of life was first predicted


def _age(acceleration: float, days: float) -> AgeingRun:
    sim = EcmBatterySimulator(
        B, EcmBatteryConfig(chemistry="lfp", ageing_acceleration=acceleration), SITE
    )
    config = EkfConfig(
        chemistry="lfp",
        # Accelerated ageing: the capacity and resistance move ~100x faster than real.
        capacity_walk_pct_per_sqrt_day=5.0,
        resistance_walk_pct_per_sqrt_h=2.0,
        health_settle_s=86_400.0,
        min_history_days=3.0,
        eol_warning_days=14.0,
    )
    stage = SocEstimators({B: config})
    nameplate_ah = 10_000 / (16 * 3.2)
    run = AgeingRun(None, {}, {})
    for k in range(int(days * 86_400 / STEP_S)):
        t = T0 + k * STEP_S
        out = sim.step(t, 0.0 if k == 0 else STEP_S, {"SetActivePower": Sample(_duty_w(t - T0), t)})
        published = stage.compute(Snapshot({f"{B}/{n}": Sample(v, t) for n, v in out.items()}, t))
        day = k * STEP_S / 86_400
        if run.cross_day is None and sim.capacity_ah / nameplate_ah < 0.80:
            run.cross_day = day
        for p in stage.predictions(B):
            if p.kind == "end_of_life" and p.kind not in run.first:
                run.channels = {a: sample.value for a, sample in published.items()}
            run.first.setdefault(p.kind, (day, p))
    return run


def test_accelerated_ageing_raises_end_of_life_days_before_soh_crosses_80() -> None:
    run = _age(acceleration=150.0, days=16.0)
    assert run.cross_day is not None
    day, eol = run.first["end_of_life"]
    assert day >= 1.0 + 3.0  # not before the trend has settled history to support it
    assert eol.confidence >= 0.99 and eol.evidence["history_days"] >= 3.0
    assert day <= run.cross_day - 3.0  # days of warning
    assert eol.value <= 14.0  # within the warning horizon it was configured with
    assert eol.evidence["fade_pct_per_day"] > 0.5
    # What the cloud's alarm is raised from, and why, as the edge publishes it.
    assert run.channels[f"{B}/PrognosisEndOfLife"] == eol.value
    [published] = [
        e
        for e in json.loads(str(run.channels[f"{B}/PrognosisEvidence"]))
        if e["kind"] == "end_of_life"
    ]
    assert published["confidence"] >= 0.99
    assert published["evidence"]["points"] == eol.evidence["points"]
    # The resistance grows with the capacity lost, far faster than a real pack's 5 %/year.
    r_day, rising = run.first["resistance_rising"]
    assert r_day >= 4.0 and rising.value > 15.0


def test_a_pack_ageing_at_its_normal_rate_raises_no_ageing_alarm() -> None:
    run = _age(acceleration=1.0, days=6.0)
    assert run.cross_day is None
    assert "end_of_life" not in run.first
    assert "resistance_rising" not in run.first
