"""What the cycle runs for ``estimator: {type: learned}``: record, infer, retrain, choose.

Every sample goes into the minute history (:mod:`.history`) with the EKF's
estimate. When a minute closes and a model is in use, the GRU reads the last
``window_min`` minutes (one inference a minute, about a millisecond); between
inferences the estimate moves by the measured current, as a counter does.

Retraining is due ``retrain_every_s`` after the last attempt (after the first
sample, for the first), by the samples' own timestamps, so virtual time drives
it in tests; an attempt that found too little data is retried after a day at
most. The training runs on a :class:`~.trainers.Trainer` (a child process on
the edge) while the cycle goes on; its outcome is picked up on a later cycle.

The published source (``SocEstimateSource``) is ``learned`` only while a model
whose validation beat the EKF's is in use and its window is whole; otherwise
``ekf`` (no model yet, too little data, worse than the EKF, training failed, a
gap in the window). Every change of source is logged with its reason.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

from ems.estimation.config import LearnedConfig
from ems.estimation.learned.history import MINUTE_S, History, MinuteHistory
from ems.estimation.learned.model_file import LearnedModel, TrainReport
from ems.estimation.learned.trainers import Trainer

__all__ = ["Choice", "LearnedSoc", "model_path"]

log = logging.getLogger(__name__)

_DAY_S = 86_400.0
_STALE_INFERENCE_S = 2 * MINUTE_S


def model_path(state_dir: Path, device_id: str) -> Path:
    return state_dir / f"soc_model_{device_id}.npz"


def history_path(state_dir: Path, device_id: str) -> Path:
    return state_dir / f"soc_history_{device_id}.npz"


@dataclass(frozen=True, slots=True)
class Choice:
    soc_pct: float
    std_pct: float
    source: str  # "ekf" | "learned"
    reason: str


class LearnedSoc:
    """One battery's learned estimator beside its EKF. Not thread-safe: the cycle owns it."""

    def __init__(
        self,
        device_id: str,
        config: LearnedConfig,
        capacity_ah: float,
        trainer: Trainer,
        state_dir: Path | None = None,
    ) -> None:
        self.device_id = device_id
        self.config = config
        self._capacity_ah = capacity_ah
        self._trainer = trainer
        self._state_dir = state_dir
        self.history = MinuteHistory(max(int(config.history_days * 1440), config.window_min))
        self.model: LearnedModel | None = None  # in use: it validated better than the EKF
        self.candidate: LearnedModel | None = None  # the latest trained, used or not
        self.report: TrainReport | None = None
        self.reason = "no_model_yet"
        self._last_attempt_s: float | None = None
        self._first_s: float | None = None
        self._inferred_pct: float | None = None  # the GRU's, moved by the current since
        self._inferred_at_s = -math.inf
        self._last_ts: float | None = None
        self._last_current_a = 0.0
        self._published: tuple[str, str] | None = None
        self._restore()

    # -- state directory ---------------------------------------------------------
    def _restore(self) -> None:
        if self._state_dir is None:
            return
        path = model_path(self._state_dir, self.device_id)
        if path.exists():
            try:
                model = LearnedModel.load(path)
            except ValueError as exc:
                log.warning("%s: learned SOC model ignored: %s", self.device_id, exc)
            else:
                self._take_report(model.report, model)
                self._last_attempt_s = model.report.trained_at_s
        saved = history_path(self._state_dir, self.device_id)
        if saved.exists():
            try:
                self.history.restore(History.load(saved))
            except (OSError, ValueError, KeyError) as exc:
                log.warning("%s: SOC history ignored: %s", self.device_id, exc)

    def _take_report(self, report: TrainReport, model: LearnedModel | None) -> None:
        self.report = report
        self.reason = report.reason
        fits = model is not None and (
            model.window_min == self.config.window_min
            and model.hidden_units == self.config.hidden_units
        )
        if model is not None and not fits:
            self.reason = "model_does_not_fit_config"
        self.candidate = model if fits else None
        self.model = model if report.use and fits else None
        self._inferred_pct = None

    # -- every sample ------------------------------------------------------------
    def observe(
        self,
        ts: float,
        voltage_v: float | None,
        current_a: float,
        temperature_c: float,
        ekf_soc_pct: float,
        charge_limit_w: float | None = None,
    ) -> None:
        """One sample (``voltage_v`` None: a dropout, not recorded), the EKF's estimate and
        the BMS's charge limit [W] (None: it reports none)."""
        if self._first_s is None:
            self._first_s = ts
        if self._inferred_pct is not None and self._last_ts is not None:
            moved = self._last_current_a * (ts - self._last_ts) / (36.0 * self._capacity_ah)
            self._inferred_pct = min(max(self._inferred_pct - moved, 0.0), 100.0)
        self._last_ts, self._last_current_a = ts, current_a
        closed = False
        if voltage_v is not None:
            closed = self.history.add(
                ts, voltage_v, current_a, temperature_c, ekf_soc_pct, charge_limit_w
            )
        # The candidate runs even when not in use: its estimate is there to compare.
        if closed and self.candidate is not None:
            predicted = self.candidate.predict_pct(self.history.last(self.candidate.window_min))
            if predicted is not None:
                self._inferred_pct, self._inferred_at_s = predicted, ts
        self._collect()
        self._maybe_train(ts)

    def _collect(self) -> None:
        outcome = self._trainer.poll()
        if outcome is None:
            return
        if isinstance(outcome, BaseException):
            log.warning("%s: SOC model training failed: %s", self.device_id, outcome)
            failed = TrainReport(False, "training_failed", self._last_attempt_s or 0.0)
            self._take_report(failed, None)
            return
        if isinstance(outcome, TrainReport):
            if self.model is not None:
                return  # too little data now: the model in use was validated, keep it
            self._take_report(outcome, None)
            return
        self._take_report(outcome.report, outcome)
        if self._state_dir is not None:
            try:
                outcome.save(model_path(self._state_dir, self.device_id))
            except OSError as exc:
                log.warning("%s: SOC model not saved: %s", self.device_id, exc)
        r = outcome.report
        log.info(
            "%s: SOC model trained (%s): learned RMSE %.2f %% vs EKF %.2f %% on %d held-out "
            "minutes, %d segments, %.1f s CPU",
            self.device_id,
            r.reason,
            r.learned_rmse_pct or math.nan,
            r.ekf_rmse_pct or math.nan,
            r.val_windows,
            r.segments,
            r.cpu_s,
        )

    def _due(self, ts: float) -> bool:
        if self._trainer.busy:
            return False
        since = self._last_attempt_s if self._last_attempt_s is not None else self._first_s
        if since is None:
            return False
        every = self.config.retrain_every_s
        if self.report is not None and self.report.reason == "too_little_data":
            every = min(every, _DAY_S)
        return ts - since >= every

    def _maybe_train(self, ts: float) -> None:
        if not self._due(ts):
            return
        self._last_attempt_s = ts
        path = None if self._state_dir is None else history_path(self._state_dir, self.device_id)
        self._trainer.start(self.history.history(), self.config, ts, path)
        self._collect()  # an inline trainer has finished already

    # -- what is published ---------------------------------------------------------
    def choose(self, ts: float, ekf_soc_pct: float, ekf_std_pct: float) -> Choice:
        """The estimate to publish at ``ts``: the learned one if it may be used, else the EKF's."""
        reason = self.reason
        if self.model is not None:
            fresh = ts - self._inferred_at_s <= _STALE_INFERENCE_S
            if self._inferred_pct is not None and fresh:
                rmse = (self.report.learned_rmse_pct if self.report else None) or 0.0
                choice = Choice(self._inferred_pct, rmse, "learned", "better_than_ekf")
                self._announce(choice)
                return choice
            reason = "window_incomplete"
        choice = Choice(ekf_soc_pct, ekf_std_pct, "ekf", reason)
        self._announce(choice)
        return choice

    @property
    def learned_soc_pct(self) -> float | None:
        """The latest model's estimate now, in use or not (None: no model or no whole window)."""
        if self.candidate is None or self._last_ts is None:
            return None
        fresh = self._last_ts - self._inferred_at_s <= _STALE_INFERENCE_S
        return self._inferred_pct if fresh else None

    def _announce(self, choice: Choice) -> None:
        key = (choice.source, choice.reason)
        if key == self._published:
            return
        self._published = key
        r = self.report
        detail = ""
        if r is not None and r.learned_rmse_pct is not None:
            detail = f" (learned RMSE {r.learned_rmse_pct:.2f} %, EKF {r.ekf_rmse_pct:.2f} %)"
        log.info("%s: SocEstimate from %s: %s%s", self.device_id, choice.source, key[1], detail)

    def close(self) -> None:
        self._trainer.close()
