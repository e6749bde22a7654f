"""Power samples (DAL history, telemetry, a CSV) → a :class:`Series` of 15-min means.

A step's value is the mean of the samples that fall in it (the edge samples
its channels at a steady rate, so the sample mean is the time mean); a step
without samples is NaN, never 0, so a forecaster can tell a gap from a
quiet night.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ems.errors import ConfigError
from ems.forecast.base import STEP_S, Series
from ems.timeseries import read_csv_series

__all__ = ["series_from_csv", "series_from_samples"]


def series_from_samples(
    samples: Iterable[tuple[float, float | None]],
    start_s: float,
    end_s: float,
    step_s: float = STEP_S,
) -> Series:
    """Means over ``[start_s, end_s)`` of ``(ts, value)`` pairs (a DAL ``Sample`` is
    ``(value, ts)``: pass ``((s.ts, s.value) for s in ...)``). Samples outside the
    span, ``None`` and non-finite values are skipped.

    Raises :class:`ValueError` naming ``step_s`` or ``end_s`` when the span is empty
    or the step is not positive.
    """
    if not step_s > 0:
        raise ValueError(f"step_s: must be positive, got {step_s}")
    steps = math.ceil((end_s - start_s) / step_s - 1e-9)
    if steps <= 0:
        raise ValueError(f"end_s: must be after start_s ({end_s} <= {start_s})")
    sums = np.zeros(steps)
    counts = np.zeros(steps)
    for ts, value in samples:
        if value is None or not math.isfinite(value) or not start_s <= ts < end_s:
            continue
        k = int((ts - start_s) // step_s)
        if k < steps:
            sums[k] += value
            counts[k] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)
    return Series(start_s, step_s, np.asarray(means, dtype=np.float64))


def series_from_csv(
    path: Path, column: str, step_s: float = STEP_S, start_s: float | None = None
) -> Series:
    """Column ``column`` of a CSV with a ``timestamp`` column (see
    :func:`ems.timeseries.read_csv_series`) as step means, from ``start_s`` (the
    first timestamp rounded down to a step when ``None``) to the last timestamp.

    Raises :class:`ConfigError` naming the file, line and column for a bad file.
    """
    raw = read_csv_series(path, [column])[column]
    first_s = start_s if start_s is not None else math.floor(raw.start_s / step_s) * step_s
    end_s = max(raw.end_s + step_s * 1e-6, first_s + step_s)
    if raw.end_s < first_s:
        raise ConfigError(f"{path}: no rows at or after start_s={first_s}")
    return series_from_samples(zip(raw.times_s, raw.values, strict=True), first_s, end_s, step_s)
