"""Battery health from what the EKF learns, and the predictions drawn from its trends.

SOH is the capacity the filter measures (its capacity multiple: charge counted
against the voltage's SOC across cycles) as a percentage of the configured
capacity; the resistance is the filter's multiple of the datasheet's. Both
are sampled once per ``health_sample_s`` and the remaining useful life is
where the line through the last ``health_window_days`` of SOH meets
``eol_soh_pct``: the pack's ageing at its current rate.

Three predictions (each with its evidence and a confidence, see
:mod:`ems.estimation.trend`), made only when the trend supports them
(``min_confidence``) and not before ``min_history`` of data:

- ``end_of_life``: SOH reaches ``eol_soh_pct`` within ``eol_warning_days``;
- ``temperature_rising``: the cell temperature's trend over
  ``temperature_window_s`` reaches the limit within ``temperature_warning_s``;
- ``resistance_rising``: the resistance grows faster than
  ``expected_resistance_growth_pct_per_year`` by ``resistance_alarm_factor``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ems.estimation.config import EkfConfig
from ems.estimation.trend import Trend, fit_trend

__all__ = ["HealthTracker", "Prediction"]

_DAY_S = 86_400.0
_YEAR_D = 365.25
_TEMPERATURE_SAMPLE_S = 60.0


@dataclass(frozen=True, slots=True)
class Prediction:
    """A predictive alarm's condition: ``kind``, its headline ``value`` and why."""

    kind: str  # "end_of_life" | "temperature_rising" | "resistance_rising"
    message: str
    value: float  # days to end of life, seconds to the limit, growth in %/year
    confidence: float  # 0..1, of the trend behind it
    evidence: dict[str, float] = field(default_factory=dict)


class HealthTracker:
    """One battery's health history and predictions; fed after every filter step."""

    def __init__(self, config: EkfConfig, max_temperature_c: float) -> None:
        self.config = config
        self.max_temperature_c = max_temperature_c
        days = config.health_window_days
        points = int(days * _DAY_S / config.health_sample_s) + 1
        self._health: deque[tuple[float, float, float]] = deque(maxlen=points)  # t_d, soh, r
        temp_points = int(config.temperature_window_s / _TEMPERATURE_SAMPLE_S) + 1
        self._temperature: deque[tuple[float, float]] = deque(maxlen=temp_points)  # t_s, °C
        self.soh_pct: float | None = None
        self.resistance_factor: float | None = None
        # Recomputed only when their trend got a point: a fit over thousands of points
        # every cycle would cost more than the filter itself.
        self._ageing: list[Prediction] = []
        self._heat: list[Prediction] = []
        self._rul: tuple[float, float] | None = None

    def observe(
        self,
        now_s: float,
        capacity_factor: float,
        resistance_factor: float,
        temperature_c: float,
        settled: bool = True,
    ) -> bool:
        """Take the filter's latest view; True when a trend got a new point and the
        predictions were recomputed. Until the filter has ``settled`` its capacity and
        resistance are still being learned, and learning would pass for ageing: they
        join no trend."""
        self.soh_pct = 100.0 * capacity_factor
        self.resistance_factor = resistance_factor
        sampled = False
        if settled and (
            not self._health
            or now_s / _DAY_S - self._health[-1][0] >= self.config.health_sample_s / _DAY_S
        ):
            self._health.append((now_s / _DAY_S, self.soh_pct, resistance_factor))
            self._rul = self._fit_rul()
            self._ageing = [p for p in (self._end_of_life(), self._resistance_rising()) if p]
            sampled = True
        if not self._temperature or now_s - self._temperature[-1][0] >= _TEMPERATURE_SAMPLE_S:
            self._temperature.append((now_s, temperature_c))
            heat = self._temperature_rising(now_s)
            self._heat = [heat] if heat is not None else []
            sampled = True
        return sampled

    # -- trends ----------------------------------------------------------------
    def _history_days(self) -> float:
        return self._health[-1][0] - self._health[0][0] if self._health else 0.0

    def soh_trend(self) -> Trend | None:
        return fit_trend([p[0] for p in self._health], [p[1] for p in self._health])

    def rul_days(self) -> tuple[float, float] | None:
        """Days until SOH reaches ``eol_soh_pct`` at the fitted rate, and the fit's confidence
        (as of the last health sample)."""
        return self._rul

    def _fit_rul(self) -> tuple[float, float] | None:
        trend = self.soh_trend()
        if trend is None or trend.slope >= 0 or not self._health:
            return None
        now_d = self._health[-1][0]
        days = trend.reaches(self.config.eol_soh_pct, now_d)
        if days is None:
            return (0.0, trend.confidence) if trend.at(now_d) <= self.config.eol_soh_pct else None
        return days, trend.confidence

    def predictions(self) -> list[Prediction]:
        """What the trends predict as of the last point each got."""
        return [*self._ageing, *self._heat]

    def _end_of_life(self) -> Prediction | None:
        cfg = self.config
        if self._history_days() < cfg.min_history_days:
            return None
        rul = self._rul
        trend = self.soh_trend()
        if rul is None or trend is None:
            return None
        days, confidence = rul
        if days > cfg.eol_warning_days or confidence < cfg.min_confidence:
            return None
        return Prediction(
            "end_of_life",
            f"battery reaches end of life (SOH {cfg.eol_soh_pct:g} %) in {days:.0f} days",
            days,
            confidence,
            {
                "soh_pct": round(self.soh_pct or 0.0, 2),
                "fade_pct_per_day": round(-trend.slope, 4),
                "fade_stderr_pct_per_day": round(trend.slope_stderr, 4),
                "history_days": round(trend.span, 1),
                "points": trend.n,
            },
        )

    def _temperature_rising(self, now_s: float) -> Prediction | None:
        cfg = self.config
        pts = self._temperature
        if not pts or pts[-1][0] - pts[0][0] < cfg.temperature_window_s / 2:
            return None
        trend = fit_trend([p[0] - now_s for p in pts], [p[1] for p in pts])
        if trend is None or trend.slope <= 0 or trend.confidence < cfg.min_confidence:
            return None
        seconds = trend.reaches(self.max_temperature_c, 0.0)
        if seconds is None or seconds > cfg.temperature_warning_s:
            return None
        return Prediction(
            "temperature_rising",
            f"cell temperature reaches its limit ({self.max_temperature_c:g} °C) "
            f"in {seconds / 60:.0f} min",
            seconds,
            trend.confidence,
            {
                "temperature_c": round(pts[-1][1], 2),
                "rise_c_per_h": round(trend.slope * 3600.0, 3),
                "limit_c": self.max_temperature_c,
                "window_s": round(trend.span, 0),
            },
        )

    def _resistance_rising(self) -> Prediction | None:
        cfg = self.config
        if self._history_days() < cfg.min_history_days:
            return None
        trend = fit_trend([p[0] for p in self._health], [100.0 * p[2] for p in self._health])
        if trend is None or trend.confidence < cfg.min_confidence:
            return None
        rate_pct_per_year = trend.slope * _YEAR_D
        expected = cfg.expected_resistance_growth_pct_per_year
        if rate_pct_per_year <= cfg.resistance_alarm_factor * expected:
            return None
        return Prediction(
            "resistance_rising",
            f"resistance rising {rate_pct_per_year:.0f} %/year, "
            f"{rate_pct_per_year / expected:.1f}x the expected {expected:g} %/year",
            rate_pct_per_year,
            trend.confidence,
            {
                "resistance_factor": round(self.resistance_factor or 0.0, 4),
                "growth_pct_per_year": round(rate_pct_per_year, 2),
                "expected_pct_per_year": expected,
                "history_days": round(trend.span, 1),
            },
        )
