"""Training the GRU with autograd, and the verdict against the EKF on held-out references.

This is the only module that imports autograd: it runs in the training
process (see :mod:`ems.estimation.learned.estimator`), never in the cycle.
Loss: mean squared error of the SOC fraction over random mini-batches of
windows, Adam. Verdict: the model is used only when its RMSE on the held-out
segments is below the EKF's on the very same minutes (the EKF's estimate is
in the history); otherwise, and when there are too few segments or windows,
the EKF stays.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import autograd.numpy as anp  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
from autograd import grad
from autograd.misc.optimizers import adam  # type: ignore[import-untyped]

from ems.cells import chemistry
from ems.estimation.config import LearnedConfig
from ems.estimation.learned.anchors import AnchorRules, label_history
from ems.estimation.learned.dataset import (
    Normaliser,
    features,
    split_windows,
    window_ends,
    windows_compact,
)
from ems.estimation.learned.gru import Params, forward, init_params
from ems.estimation.learned.history import History
from ems.estimation.learned.model_file import LearnedModel, TrainReport

__all__ = ["anchor_rules", "fit", "pack_capacity_ah", "train_model"]

Array = npt.NDArray[np.float64]


def pack_capacity_ah(config: LearnedConfig) -> float:
    chem = chemistry(config.chemistry)
    return config.capacity_wh / (config.cells_in_series * chem.nominal_cell_v)


def anchor_rules(config: LearnedConfig) -> AnchorRules:
    return AnchorRules(
        chem=chemistry(config.chemistry),
        series_cells=config.cells_in_series,
        capacity_ah=pack_capacity_ah(config),
        rest_s=config.rest_s,
        rest_current_c=config.rest_current_c,
        cell_voltage_error_v=config.cell_voltage_error_v,
        anchor_max_std_pct=config.anchor_max_std_pct,
        max_segment_s=config.max_segment_s,
        full_soc_pct=config.full_soc_pct,
    )


def fit(
    params: Params,
    x: npt.NDArray[np.floating[Any]],
    y: Array,
    iterations: int,
    batch: int,
    learning_rate: float,
    seed: int = 0,
    on_loss: Callable[[int, float], None] | None = None,
) -> Params:
    """``params`` after Adam on the mean squared error of ``forward(x) - y`` in mini-batches."""
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, len(x), min(batch, len(x))) for _ in range(iterations)]

    def loss(p: Params, i: int) -> object:
        rows = picks[i]
        err = forward(p, x[rows], anp) - y[rows]
        return anp.mean(err * err)

    gradient = grad(loss)

    def callback(p: Params, i: int, _g: Params) -> None:
        if on_loss is not None:
            on_loss(i, float(loss(p, i)))  # type: ignore[arg-type]

    trained: Params = adam(
        gradient,
        params,
        callback=callback if on_loss is not None else None,
        num_iters=iterations,
        step_size=learning_rate,
    )
    return trained


def _forward_in_chunks(params: Params, x: npt.NDArray[np.floating[Any]], chunk: int = 256) -> Array:
    # All windows at once would hold windows × steps × 3·hidden input projections
    # (120 MB for 3,500 windows of 90 min): a small box's memory, for nothing.
    parts = [forward(params, x[k : k + chunk]) for k in range(0, len(x), chunk)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _rmse_max(error: Array) -> tuple[float, float]:
    return float(np.sqrt(np.mean(error * error))), float(np.max(np.abs(error)))


def beats_ekf(learned_rmse: float, learned_max: float, ekf_rmse: float, ekf_max: float) -> bool:
    """Whether the learned model may replace the EKF, judged on the same held-out points.

    A lower RMSE is not enough: controllers act on the estimate at its worst moment
    (an empty battery at the peak), so the learned model must not be worse there either.
    """
    return learned_rmse < ekf_rmse and learned_max <= ekf_max


def train_model(
    history: History, config: LearnedConfig, now_s: float
) -> LearnedModel | TrainReport:
    """A model trained on ``history`` with its verdict, or (too little data) only a report."""
    started = time.process_time()
    rules = anchor_rules(config)
    labels = label_history(history, rules)
    ends = window_ends(history, config.window_min, config.window_stride_min)
    windows = split_windows(ends, labels.soc_pct, labels.segment, config.validation_fraction)
    counts = {
        "segments": labels.segments,
        "anchors": len(labels.anchors),
        "train_windows": len(windows.train_ends),
        "val_windows": len(windows.val_ends),
    }
    if (
        labels.segments < config.min_segments
        or len(windows.train_ends) < config.min_windows
        or len(windows.val_ends) == 0
    ):
        return TrainReport(use=False, reason="too_little_data", trained_at_s=now_s, **counts)
    per_minute = features(history, rules.series_cells, rules.capacity_ah)
    x_train = windows_compact(per_minute, windows.train_ends, config.window_min)
    # From a thousand windows or so: as good a mean and spread, without a float64 copy of all.
    normaliser = Normaliser.fit(x_train[:: max(1, len(x_train) // 1000)])
    normaliser.in_place(x_train)
    y_train = windows.train_soc_pct / 100.0
    params = init_params(x_train.shape[2], config.hidden_units, config.seed)
    params["b_out"] = np.array([float(np.mean(y_train))])  # start at the average level
    losses: list[float] = []
    params = fit(
        params,
        x_train,
        y_train,
        config.training_iterations,
        config.batch_windows,
        config.learning_rate,
        config.seed,
        on_loss=lambda i, v: losses.append(v) if i == config.training_iterations - 1 else None,
    )
    x_val = normaliser.in_place(windows_compact(per_minute, windows.val_ends, config.window_min))
    learned_pct = np.clip(100.0 * _forward_in_chunks(params, x_val), 0.0, 100.0)
    learned_rmse, learned_max = _rmse_max(learned_pct - windows.val_soc_pct)
    ekf_rmse, ekf_max = _rmse_max(history.ekf_soc_pct[windows.val_ends] - windows.val_soc_pct)
    better = beats_ekf(learned_rmse, learned_max, ekf_rmse, ekf_max)
    report = TrainReport(
        use=better,
        reason="better_than_ekf" if better else "worse_than_ekf",
        trained_at_s=now_s,
        learned_rmse_pct=round(learned_rmse, 4),
        ekf_rmse_pct=round(ekf_rmse, 4),
        learned_max_pct=round(learned_max, 4),
        ekf_max_pct=round(ekf_max, 4),
        iterations=config.training_iterations,
        cpu_s=round(time.process_time() - started, 3),
        final_loss=losses[-1] if losses else None,
        **counts,
    )
    return LearnedModel(
        {k: np.asarray(v) for k, v in params.items()},
        normaliser,
        config.window_min,
        rules.series_cells,
        rules.capacity_ah,
        report,
    )
