"""A trained model, what it is worth, and its file in the edge's state directory.

One ``.npz`` per battery: the GRU's weights, the input normalisation and a JSON
header with the model's and the EKF's validation RMSE on the same held-out
points, the decision taken from them, and when it was trained. Written beside
and renamed over the old file, so a crash leaves the old model whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ems.estimation.learned.dataset import Normaliser, features, windows_at
from ems.estimation.learned.gru import Params, forward
from ems.estimation.learned.history import History

__all__ = ["LearnedModel", "TrainReport"]

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class TrainReport:
    """What one training found. ``use`` is the decision: learned (True) or EKF (False)."""

    use: bool
    reason: str  # "better_than_ekf" | "worse_than_ekf" | "too_little_data"
    trained_at_s: float
    learned_rmse_pct: float | None = None
    ekf_rmse_pct: float | None = None
    learned_max_pct: float | None = None
    ekf_max_pct: float | None = None
    segments: int = 0
    anchors: int = 0
    train_windows: int = 0
    val_windows: int = 0
    iterations: int = 0
    cpu_s: float = 0.0
    final_loss: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class LearnedModel:
    """The GRU and everything needed to feed it the battery's last ``window_min`` minutes."""

    params: Params
    normaliser: Normaliser
    window_min: int
    series_cells: int
    capacity_ah: float
    report: TrainReport = field(
        default_factory=lambda: TrainReport(use=False, reason="untrained", trained_at_s=0.0)
    )

    @property
    def hidden_units(self) -> int:
        return int(self.params["w_h"].shape[0])

    def predict_pct(self, history: History) -> float | None:
        """SOC [%] at the last row of ``history`` (its last ``window_min`` rows, unbroken),
        or None when the window is short or broken."""
        n = len(history)
        if n < self.window_min:
            return None
        if np.any(np.diff(history.t_s[n - self.window_min :]) > 60.0 + 1e-6):
            return None
        per_minute = features(history, self.series_cells, self.capacity_ah)
        x = windows_at(per_minute, np.array([n - 1], dtype=np.int64), self.window_min)
        y = float(forward(self.params, self.normaliser(x))[0])
        return min(max(100.0 * y, 0.0), 100.0)

    def size_bytes(self) -> int:
        arrays = [*self.params.values(), self.normaliser.mean, self.normaliser.std]
        return int(sum(np.asarray(a).nbytes for a in arrays))

    def save(self, path: Path) -> None:
        header = {
            "format": _FORMAT,
            "window_min": self.window_min,
            "series_cells": self.series_cells,
            "capacity_ah": self.capacity_ah,
            "report": self.report.as_dict(),
        }
        arrays: dict[str, Any] = {f"p_{k}": np.asarray(v) for k, v in self.params.items()}
        arrays["header"] = np.array(json.dumps(header))
        arrays["norm_mean"] = self.normaliser.mean
        arrays["norm_std"] = self.normaliser.std
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            np.savez(f, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LearnedModel:
        """The model in ``path``; ``ValueError`` when it is not one this code wrote."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                params = {k[2:]: np.asarray(data[k]) for k in data.files if k.startswith("p_")}
                norm = Normaliser(np.asarray(data["norm_mean"]), np.asarray(data["norm_std"]))
        except (OSError, KeyError, ValueError) as exc:  # JSONDecodeError is a ValueError
            raise ValueError(f"{path.name}: not a model file ({exc})") from None
        if header.get("format") != _FORMAT:
            raise ValueError(f"{path.name}: format {header.get('format')!r}, expected {_FORMAT}")
        return cls(
            params,
            norm,
            int(header["window_min"]),
            int(header["series_cells"]),
            float(header["capacity_ah"]),
            TrainReport(**header["report"]),
        )
