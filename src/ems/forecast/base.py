"""The contract between forecasters and what plans with them (DESIGN.md §13).

A forecast is a :class:`Series` of means over regular steps (15 min by
default), in the channel's unit (W for power, > 0 as the profile says: load
consumed, PV produced). A forecaster is given the history it may learn from,
as the same kind of series, and the span to forecast; it must not look past
``start_s`` in the history (a perfect forecast is a forecaster that was given
the future when it was built, and says so in its name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["STEP_S", "FloatArray", "Forecaster", "Series"]

#: The step of forecasts and plans [s].
STEP_S = 900.0

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Series:
    """``values[k]`` is the mean over ``[start_s + k·step_s, start_s + (k+1)·step_s)``;
    NaN where nothing was measured."""

    start_s: float  # UTC epoch s
    step_s: float
    values: FloatArray

    def __post_init__(self) -> None:
        if self.step_s <= 0:
            raise ValueError("step_s must be positive")
        if self.values.ndim != 1:
            raise ValueError("values must be one-dimensional")

    @property
    def end_s(self) -> float:
        """The end of the last step (exclusive)."""
        return self.start_s + self.step_s * len(self.values)

    def times_s(self) -> FloatArray:
        """The start of each step."""
        return self.start_s + self.step_s * np.arange(len(self.values), dtype=np.float64)


class Forecaster(Protocol):
    """Forecasts one quantity (a site's load, or its PV) from its history."""

    #: Stable lower_snake name, shown in telemetry and the benchmark (e.g. ``persistence``).
    name: str

    def forecast(self, history: Series, start_s: float, steps: int) -> Series:
        """``steps`` steps of ``history.step_s`` from ``start_s``; only history before
        ``start_s`` may be used. Never NaN: a forecaster with too little history falls
        back to something simpler rather than return gaps."""
        ...
