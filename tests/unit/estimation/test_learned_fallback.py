"""``estimator: {type: learned}`` in the cycle's stage: which estimate is published, and when
it retrains. Time is the samples' own (virtual); the trainer is a stand-in the test
finishes, so each outcome arrives exactly when the test says."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from ems.dal import Sample, Snapshot
from ems.estimation import LearnedConfig
from ems.estimation.learned.dataset import Normaliser
from ems.estimation.learned.gru import init_params
from ems.estimation.learned.history import History
from ems.estimation.learned.model_file import LearnedModel, TrainReport
from ems.estimation.learned.trainers import Outcome, ProcessTrainer
from ems.estimation.stage import SocEstimators

B = "battery_1"
T0 = 1_775_001_600.0
DAY_S = 86_400.0
REST_V = 16 * 3.2772 + 16 * (3.3511 - 3.2772) / (0.9833 - 0.2972) * (0.5 - 0.2972)  # OCV(50 %)


class HeldTrainer:
    """Starts are recorded; the test decides what each returns, and when."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.histories: list[History] = []
        self._running = False
        self._outcome: Outcome | None = None

    @property
    def busy(self) -> bool:
        return self._running

    def start(
        self, history: History, config: LearnedConfig, now_s: float, history_path: Path | None
    ) -> None:
        assert not self._running
        self.starts.append(now_s)
        self.histories.append(history)
        self._running = True

    def finish(self, outcome: Outcome) -> None:
        self._outcome = outcome

    def poll(self) -> Outcome | None:
        if self._outcome is None:
            return None
        outcome, self._outcome, self._running = self._outcome, None, False
        return outcome

    def close(self) -> None:
        self._running = False


CONFIG = LearnedConfig(retrain_every_s=DAY_S, window_min=10, hidden_units=4)


def model(level_pct: float, use: bool, window_min: int = 10, hidden: int = 4) -> LearnedModel:
    """A model that says ``level_pct`` whatever it reads (its output weights are zero)."""
    params = init_params(4, hidden)
    params["w_out"] = np.zeros(hidden)
    params["b_out"] = np.array([level_pct / 100.0])
    reason = "better_than_ekf" if use else "worse_than_ekf"
    report = TrainReport(use, reason, T0, learned_rmse_pct=0.8, ekf_rmse_pct=1.2, val_windows=9)
    return LearnedModel(params, Normaliser(np.zeros(4), np.ones(4)), window_min, 16, 195.3, report)


class Site:
    def __init__(self, state_dir: Path | None = None) -> None:
        self.trainer = HeldTrainer()
        self.stage = SocEstimators({B: CONFIG}, state_dir, trainer=lambda: self.trainer)
        self.t = T0

    def run(self, seconds: float, step_s: float = 60.0) -> dict[str, Sample]:
        """Samples every ``step_s`` for ``seconds``; the last cycle's output."""
        out: dict[str, Sample] = {}
        end = self.t + seconds
        while self.t < end:
            self.t += step_s
            data = {"Current": 0.0, "Voltage": REST_V, "Temperature": 25.0, "Soc": 50.0}
            snap = Snapshot({f"{B}/{n}": Sample(v, self.t) for n, v in data.items()}, self.t)
            out = dict(self.stage.compute(snap))
        return out

    def published(self, seconds: float = 60.0) -> tuple[object, object]:
        out = self.run(seconds)
        return out[f"{B}/SocEstimateSource"].value, out[f"{B}/SocEstimate"].value


def test_until_a_model_exists_the_ekf_is_published_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = Site()
    with caplog.at_level(logging.INFO):
        source, soc = site.published()
    ekf = site.stage.filter_of(B)
    assert ekf is not None
    assert (source, soc) == ("ekf", ekf.soc_pct)
    assert "SocEstimate from ekf: no_model_yet" in caplog.text


def test_retraining_runs_on_schedule_by_the_samples_clock() -> None:
    site = Site()
    first = T0 + 60
    site.run(DAY_S - 60)
    assert site.trainer.starts == []  # not yet a day since the first sample
    site.run(120)
    assert site.trainer.starts == [first + DAY_S]
    assert len(site.trainer.histories[0]) > 1400  # a day of minutes went to it
    site.run(DAY_S / 2)
    site.trainer.finish(model(70.0, use=True))
    site.run(DAY_S / 2 - 120)
    assert len(site.trainer.starts) == 1  # the next is due a day after the last attempt
    site.run(120)
    assert site.trainer.starts[1] == first + 2 * DAY_S
    site.run(2 * DAY_S)
    assert len(site.trainer.starts) == 2  # one at a time: the second still runs


def test_too_little_data_keeps_the_ekf_and_retries_within_a_day() -> None:
    site = Site()
    site.run(DAY_S + 60)
    site.trainer.finish(TrainReport(False, "too_little_data", site.t))
    assert site.published()[0] == "ekf"
    assert site.stage.learned_of(B).reason == "too_little_data"  # type: ignore[union-attr]


def test_a_model_worse_than_the_ekf_is_not_published() -> None:
    site = Site()
    site.run(DAY_S + 60)
    site.trainer.finish(model(70.0, use=False))
    source, soc = site.published(15 * 60)
    assert source == "ekf" and soc != pytest.approx(70.0)
    learned = site.stage.learned_of(B)
    assert learned is not None and learned.reason == "worse_than_ekf"
    assert learned.learned_soc_pct == pytest.approx(70.0)  # computed, to compare, not used


def test_a_model_better_than_the_ekf_is_published_once_its_window_is_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = Site()
    site.run(DAY_S + 60)
    site.trainer.finish(model(70.0, use=True))
    with caplog.at_level(logging.INFO):
        source, soc = site.published(15 * 60)
    assert (source, soc) == ("learned", pytest.approx(70.0))
    out = site.run(60)
    assert out[f"{B}/SocEstimateStd"].value == pytest.approx(0.8)  # its validation RMSE
    assert "SocEstimate from learned: better_than_ekf" in caplog.text


def test_a_failed_training_falls_back_to_the_ekf() -> None:
    site = Site()
    site.run(DAY_S + 60)
    site.trainer.finish(model(70.0, use=True))
    assert site.published(15 * 60)[0] == "learned"
    site.run(DAY_S)
    site.trainer.finish(RuntimeError("out of memory"))
    assert site.published()[0] == "ekf"
    assert site.stage.learned_of(B).reason == "training_failed"  # type: ignore[union-attr]


def test_the_model_is_kept_in_the_state_dir_and_used_after_a_restart(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.run(DAY_S + 60)
    site.trainer.finish(model(70.0, use=True))
    site.run(60)
    saved = LearnedModel.load(tmp_path / f"soc_model_{B}.npz")
    assert saved.report.learned_rmse_pct == 0.8 and saved.report.ekf_rmse_pct == 1.2
    again = Site(tmp_path)
    assert again.published(15 * 60) == ("learned", pytest.approx(70.0))
    assert again.trainer.starts == []  # a day after its training, by the samples' clock


def test_a_saved_model_of_another_shape_is_not_used(tmp_path: Path) -> None:
    model(70.0, use=True, window_min=30).save(tmp_path / f"soc_model_{B}.npz")
    site = Site(tmp_path)
    assert site.published(40 * 60)[0] == "ekf"
    assert site.stage.learned_of(B).reason == "model_does_not_fit_config"  # type: ignore[union-attr]


def test_the_child_process_trains_and_answers(tmp_path: Path) -> None:
    rows = 30
    t = T0 + 60.0 * np.arange(rows)
    history = History(t, np.full(rows, 52.0), np.zeros(rows), np.full(rows, 25.0),
                      np.full(rows, 50.0), np.full(rows, np.nan))  # fmt: skip
    trainer = ProcessTrainer()
    try:
        trainer.start(history, CONFIG, T0, tmp_path / "history.npz")
        assert trainer.busy
        assert trainer.wait(timeout_s=120.0)
        outcome = trainer.poll()
    finally:
        trainer.close()
    assert isinstance(outcome, TrainReport) and outcome.reason == "too_little_data"
    assert not trainer.busy
    assert len(History.load(tmp_path / "history.npz")) == rows
