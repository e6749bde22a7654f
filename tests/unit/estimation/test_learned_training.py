"""Reference SOC points, the labels between them, and the verdict of a training.

The history is made by hand, minute by minute, from a known SOC: each day a
rest at full (the BMS's charge limit closed), a discharge, a rest in the
middle of the NMC curve, a discharge, a charge back to full. The current
sensor reads 0.5 A high and the pack has 3 % less than its nameplate, as a
real one might."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ems.cells import PackModel, chemistry
from ems.estimation import LearnedConfig
from ems.estimation.learned.anchors import find_anchors, label_history
from ems.estimation.learned.history import History, MinuteHistory
from ems.estimation.learned.model_file import LearnedModel, TrainReport
from ems.estimation.learned.train import (
    anchor_rules,
    beats_ekf,
    pack_capacity_ah,
    train_model,
)

T0 = 1_775_001_600.0
BIAS_A = 0.5
CAPACITY_FACTOR = 0.97


def config(**overrides: object) -> LearnedConfig:
    base: dict[str, object] = {
        "chemistry": "nmc",
        "full_soc_pct": 95.0,
        "window_min": 10,
        "window_stride_min": 10,
        "hidden_units": 4,
        "training_iterations": 40,
        "batch_windows": 32,
        "min_windows": 20,
        "min_segments": 3,
    }
    return LearnedConfig.model_validate({**base, **overrides})


def day_plan(q_ah: float) -> list[tuple[int, float, bool]]:
    """(minutes, true current [A], charge limit closed) for one day, from full back to full."""
    discharge_a = 0.3 * q_ah / 5.0  # 30 points in 5 h
    return [
        (240, 0.0, True),  # full, resting
        (300, discharge_a, False),
        (120, 0.0, False),  # a rest at 65 %: steep on NMC
        (300, discharge_a, False),
        (480, -0.6 * q_ah / 8.0, False),  # back to 95 % in 8 h
        (300, 0.0, True),
    ]


def synthetic(
    days: int, ekf_offset_pct: float = 0.0, chem_name: str = "nmc"
) -> tuple[History, np.ndarray]:
    cfg = config(chemistry=chem_name)
    chem = chemistry(chem_name)
    cells = cfg.cells_in_series
    q_ah = pack_capacity_ah(cfg) * CAPACITY_FACTOR
    pack = PackModel(chem, cells, q_ah)
    rows, truth = [], []
    soc, h_v, t = 0.95, pack.hysteresis_v, T0
    for _ in range(days):
        for minutes, current_a, closed in day_plan(q_ah):
            for _ in range(minutes):
                soc -= current_a * 60.0 / 3600.0 / q_ah
                if current_a != 0:
                    h_v = -pack.hysteresis_v if current_a > 0 else pack.hysteresis_v
                volts = pack.ocv_v(soc, 25.0) + h_v - pack.r0_ohm(25.0) * current_a
                limit = 0.0 if closed else 5000.0
                ekf = 100 * soc + ekf_offset_pct
                rows.append((t, volts, current_a + BIAS_A, 25.0, ekf, limit))
                truth.append(100.0 * soc)
                t += 60.0
    a = np.array(rows)
    return History(*(np.ascontiguousarray(a[:, k]) for k in range(6))), np.array(truth)


def test_full_charges_and_steep_rests_are_references() -> None:
    history, truth = synthetic(3)
    anchors = find_anchors(history, anchor_rules(config()))
    # Each day: the mid-curve rest and the full charge at its end (which runs on into
    # the next day's rest at full: one reference). The first rest has no charge before
    # it in the record, so which side of the hysteresis it sits on is unknown: none.
    assert len(anchors) == 6
    for a in anchors:
        assert a.soc_pct == pytest.approx(truth[a.index], abs=1.0)
    full = [a for a in anchors if a.soc_pct == 95.0]
    assert len(full) == 3


def test_a_rest_on_a_flat_curve_is_no_reference() -> None:
    history, _ = synthetic(2, chem_name="lfp")  # the rest at 65 % is on LFP's plateau
    anchors = find_anchors(history, anchor_rules(config(chemistry="lfp")))
    assert [a.soc_pct for a in anchors] == [95.0, 95.0]


def test_labels_between_references_follow_the_truth_despite_bias_and_capacity() -> None:
    history, truth = synthetic(4)
    labels = label_history(history, anchor_rules(config()))
    labelled = ~np.isnan(labels.soc_pct)
    assert labelled.mean() > 0.6
    err = labels.soc_pct[labelled] - truth[labelled]
    assert np.sqrt(np.mean(err**2)) < 0.5
    assert labels.bias_a == pytest.approx(BIAS_A, abs=0.1)
    nameplate = pack_capacity_ah(config())
    assert labels.capacity_ah / nameplate == pytest.approx(CAPACITY_FACTOR, abs=0.01)
    # The uncorrected count would be far off by the end of a day.
    naive = np.cumsum(-history.current_a * 60 / 3600 / nameplate) * 100
    assert np.max(np.abs(naive - naive[0] + truth[0] - truth)) > 5.0


def test_too_little_data_gives_only_a_report() -> None:
    history, _ = synthetic(1)
    out = train_model(history, config(), T0)
    assert isinstance(out, TrainReport)
    assert (out.use, out.reason) == (False, "too_little_data")


def test_a_model_that_validates_worse_than_the_ekf_is_not_used() -> None:
    history, _ = synthetic(5)  # the EKF column is exact
    out = train_model(history, config(), T0)
    assert isinstance(out, LearnedModel)
    assert (out.report.use, out.report.reason) == (False, "worse_than_ekf")
    assert out.report.ekf_rmse_pct is not None and out.report.learned_rmse_pct is not None
    assert out.report.ekf_rmse_pct < out.report.learned_rmse_pct
    assert out.report.val_windows > 0 and out.report.train_windows >= 20


def test_a_model_that_validates_better_than_the_ekf_is_used_and_round_trips(
    tmp_path: Path,
) -> None:
    history, _ = synthetic(5, ekf_offset_pct=40.0)  # a badly wrong EKF
    out = train_model(history, config(), T0)
    assert isinstance(out, LearnedModel)
    assert (out.report.use, out.report.reason) == (True, "better_than_ekf")
    path = tmp_path / "model.npz"
    out.save(path)
    back = LearnedModel.load(path)
    assert back.report == out.report
    assert back.predict_pct(history) == pytest.approx(out.predict_pct(history))
    assert out.size_bytes() < 4096


def test_a_file_that_is_no_model_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "soc_model_battery_1.npz"
    path.write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=r"soc_model_battery_1\.npz"):
        LearnedModel.load(path)


def test_the_minute_history_averages_rings_and_survives_a_restart(tmp_path: Path) -> None:
    rec = MinuteHistory(capacity_min=3)
    for k in range(5 * 6):  # five minutes of 10 s samples
        ts = T0 + 10.0 * k
        rec.add(ts, 50.0 + (k % 6), 1.0, 20.0, 60.0, 5000.0 if k % 6 else 0.0)
    rec.add(T0 + 300.0, 0.0, 0.0, 0.0, 0.0)  # closes the fifth minute
    h = rec.history()
    assert len(h) == 3  # the oldest two fell off
    np.testing.assert_allclose(h.t_s, [T0 + 120, T0 + 180, T0 + 240])
    np.testing.assert_allclose(h.voltage_v, 52.5)
    np.testing.assert_allclose(h.charge_limit_w, 0.0)  # the smallest in the minute
    h.save(tmp_path / "h.npz")
    again = MinuteHistory(capacity_min=10)
    again.restore(History.load(tmp_path / "h.npz"))
    np.testing.assert_allclose(again.history().t_s, h.t_s)


def test_the_minute_history_grows_as_it_fills_then_rings() -> None:
    rec = MinuteHistory(capacity_min=2000)
    for k in range(2500 + 1):
        rec.add(T0 + 60.0 * k, float(k), 0.0, 25.0, 50.0)
    h = rec.history()
    assert len(h) == 2000
    np.testing.assert_allclose(h.voltage_v, np.arange(500, 2500))
    np.testing.assert_allclose(rec.last(3).voltage_v, [2497, 2498, 2499])


@pytest.mark.parametrize(
    ("learned", "ekf", "use"),
    [
        ((0.8, 1.5), (1.2, 1.9), True),  # better on both
        ((0.8, 4.5), (1.2, 1.9), False),  # better on average, worse at its worst moment
        ((1.3, 1.5), (1.2, 1.9), False),  # worse on average
        ((1.2, 1.9), (1.2, 1.9), False),  # a tie keeps the EKF
    ],
)
def test_the_learned_model_must_beat_the_ekf_on_average_and_at_its_worst(
    learned: tuple[float, float], ekf: tuple[float, float], use: bool
) -> None:
    assert beats_ekf(*learned, *ekf) is use
