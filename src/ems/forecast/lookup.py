"""Reading a history :class:`Series` at given instants, never past a cut-off."""

from __future__ import annotations

import numpy as np

from ems.forecast.base import FloatArray, Series

__all__ = ["DAY_S", "WEEK_S", "history_before", "values_at"]

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S


def values_at(history: Series, times_s: FloatArray, before_s: float) -> FloatArray:
    """The history's step containing each of ``times_s``; NaN outside it or at/after ``before_s``.

    ``before_s`` is the forecast's start: a forecaster must not see the future,
    even when the history it was handed runs past it (the benchmark hands the
    whole data set).
    """
    # Index by the step's middle so float rounding of an exact boundary never
    # picks the step before.
    idx = np.floor((times_s - history.start_s) / history.step_s + 1e-9).astype(np.int64)
    step_end_s = history.start_s + (idx + 1) * history.step_s
    ok = (idx >= 0) & (idx < len(history.values)) & (step_end_s <= before_s + 1e-6)
    out = np.full(times_s.shape, np.nan, dtype=np.float64)
    out[ok] = history.values[idx[ok]]
    return out


def history_before(history: Series, before_s: float) -> Series:
    """The whole steps of ``history`` that end at or before ``before_s``."""
    keep = int(np.floor((before_s - history.start_s) / history.step_s + 1e-9))
    keep = max(0, min(len(history.values), keep))
    return Series(history.start_s, history.step_s, history.values[:keep])
