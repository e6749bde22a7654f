"""From minute history to the GRU's windows: features, normalisation, labels, the split.

Each minute of a window gives four inputs: the cell voltage, the current as a
C-rate, the temperature and the coulomb count since the window's start (SOC
fraction moved by the measured current: a bias barely shows within a window,
so the count is locally accurate). The net is asked for the SOC at the
window's last minute: the count tells it how the window moved, the voltage
where it is. Every input is then standardised with the training set's means
and spreads (kept with the model), so no chemistry's or site's scale is built in.

Validation holds out whole reference segments, the latest ones (the
battery's present age, and no window's label shares a segment with training).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ems.estimation.learned.history import MINUTE_S, History

__all__ = [
    "FEATURES",
    "Normaliser",
    "Windows",
    "features",
    "split_windows",
    "window_ends",
    "windows_at",
    "windows_compact",
]

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
FEATURES = ("cell_voltage_v", "current_c", "temperature_c", "count_fraction")


@dataclass(frozen=True, slots=True)
class Normaliser:
    mean: Array
    std: Array

    @classmethod
    def fit(cls, x: npt.NDArray[np.floating[Any]]) -> Normaliser:
        flat = x.reshape(-1, x.shape[-1])
        std = flat.std(axis=0, dtype=np.float64)
        return cls(flat.mean(axis=0, dtype=np.float64), np.where(std > 1e-9, std, 1.0))

    def in_place(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        x -= self.mean.astype(np.float32)
        x /= self.std.astype(np.float32)
        return x

    def __call__(self, x: Array) -> Array:
        out: Array = (x - self.mean) / self.std
        return out


def features(history: History, series_cells: int, capacity_ah: float) -> Array:
    """Per-minute inputs (rows × 3) before windowing; the count is added per window."""
    return np.stack(
        [
            history.voltage_v / series_cells,
            history.current_a / capacity_ah,
            history.temperature_c,
        ],
        axis=1,
    )


def windows_at(per_minute: Array, ends: IntArray, window_min: int) -> Array:
    """Windows (len(ends) × window_min × 4) ending at each row of ``ends``."""
    rows = ends[:, None] - window_min + 1 + np.arange(window_min)[None, :]
    x = per_minute[rows]  # (n, w, 3)
    # Coulomb count since the window's first minute, as a SOC fraction per C-rate-minute.
    moved = -np.cumsum(x[:, :, 1], axis=1) * (MINUTE_S / 3600.0)
    count = moved - moved[:, :1]
    out: Array = np.concatenate([x, count[:, :, None]], axis=2)
    return out


def windows_compact(
    per_minute: Array, ends: IntArray, window_min: int, chunk: int = 512
) -> npt.NDArray[np.float32]:
    """:func:`windows_at` for many windows, built a chunk at a time into float32: a
    training set of weeks (10,000 windows of 90 min) then takes 13 MB, not 100."""
    out = np.empty((len(ends), window_min, len(FEATURES)), dtype=np.float32)
    for k in range(0, len(ends), chunk):
        out[k : k + chunk] = windows_at(per_minute, ends[k : k + chunk], window_min)
    return out


def window_ends(history: History, window_min: int, stride_min: int = 1) -> IntArray:
    """Rows that end an unbroken window of ``window_min`` minutes, every ``stride_min``."""
    n = len(history)
    if n < window_min:
        return np.zeros(0, dtype=np.int64)
    steady = np.diff(history.t_s) <= MINUTE_S + 1e-6  # row k-1 -> k unbroken
    breaks = np.concatenate([[0], np.cumsum(~steady)])
    ends = np.arange(window_min - 1, n)
    whole = breaks[ends] == breaks[ends - window_min + 1]
    out: IntArray = ends[whole][::stride_min].astype(np.int64)
    return out


@dataclass(frozen=True, slots=True)
class Windows:
    """Training and validation window ends (history rows) and their labels [%]."""

    train_ends: IntArray
    train_soc_pct: Array
    val_ends: IntArray
    val_soc_pct: Array


def split_windows(
    ends: IntArray, soc_pct: Array, segment: IntArray, validation_fraction: float
) -> Windows:
    """Labelled ends, the latest ``validation_fraction`` of segments (at least one) held out."""
    labelled = ends[segment[ends] >= 0]
    segs = np.unique(segment[labelled])
    held = max(1, int(np.ceil(validation_fraction * len(segs)))) if len(segs) else 0
    val_segs = segs[len(segs) - held :]
    is_val = np.isin(segment[labelled], val_segs)
    train, val = labelled[~is_val], labelled[is_val]
    return Windows(train, soc_pct[train], val, soc_pct[val])
