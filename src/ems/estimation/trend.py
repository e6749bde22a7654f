"""A straight-line trend with how sure it is: the evidence behind a predictive alarm."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, StatisticsError, linear_regression

__all__ = ["Trend", "fit_trend"]

_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class Trend:
    """``y ≈ intercept + slope·x`` over ``n`` points spanning ``span`` (x units).

    ``confidence`` is how sure the slope is not zero, from its t statistic
    (two-sided, normal approximation): 0.95 means a slope this steep would come
    out of flat noise one time in twenty.
    """

    slope: float
    intercept: float
    slope_stderr: float
    n: int
    span: float
    confidence: float

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x

    def reaches(self, level: float, after_x: float) -> float | None:
        """How far beyond ``after_x`` the line reaches ``level`` (None: never, or behind)."""
        if self.slope == 0:
            return None
        x = (level - self.intercept) / self.slope
        return x - after_x if x >= after_x else None


def fit_trend(xs: Sequence[float], ys: Sequence[float]) -> Trend | None:
    """The least-squares line through the points, or None with fewer than 3 distinct xs."""
    n = len(xs)
    if n < 3 or n != len(ys):
        return None
    try:
        slope, intercept = linear_regression(xs, ys)
    except StatisticsError:
        return None
    mean_x = sum(xs) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    stderr = math.sqrt(residual / (n - 2) / sxx) if sxx > 0 else math.inf
    if stderr == 0:
        confidence = 1.0 if slope != 0 else 0.0
    else:
        confidence = 2.0 * _NORMAL.cdf(abs(slope) / stderr) - 1.0
    return Trend(slope, intercept, stderr, n, max(xs) - min(xs), confidence)
