"""What the rest of the billing month will bill: the peak of its days past the horizon.

A demand charge bills the month's highest quarter hour; a plan sees 36 h of it. The
days after the horizon will make peaks of their own, so the month bills
``max(p, Q)``: ``p`` the horizon's peak, ``Q`` the highest of the days still to come.
A plan that bills ``p`` whole spends the battery early in a month to shave a night
below a peak the coming days will bill anyway, and finds it short on the first grey
morning.

So the plan's last month is billed in expectation (the LP's ``last_peak_levels``):
lowering ``p`` at a level ``x`` saves only when ``Q <= x``, with probability
``F(x) ** days_left``, ``F`` the distribution of one day's peak. That is modelled
on the site's own recent days: the lowest peak the battery could have held on
each, knowing it, from half full at its start (:func:`day_peak_w`; a full battery
every morning would take a night's charge no day pays for, an empty one would
leave out the charge the evening before gives).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np

from ems.forecast import Series
from ems.forecast.base import FloatArray
from ems.forecast.lookup import DAY_S, values_at
from ems.optimize import BatteryModel, DispatchProblem, OptimizeError, solve_dispatch

__all__ = ["MonthRest", "day_peak_w", "month_end_s", "peak_levels"]

#: An import price of no weight, so the day's LP does not cycle the battery for nothing.
_TIE_PRICE_PER_KWH = 1e-6


def day_peak_w(net_w: FloatArray, step_s: float, battery: BatteryModel) -> float:
    """The lowest 15-min import peak the battery, from its ``initial_soc_pct``, could hold
    over one day's net load ``net_w`` [W per step], knowing it."""
    n = len(net_w)
    plan = solve_dispatch(
        DispatchProblem(
            battery=battery,
            step_s=step_s,
            net_load_w=net_w,
            import_price_per_kwh=np.full(n, _TIE_PRICE_PER_KWH),
            export_price_per_kwh=np.zeros(n),
            demand_charge_per_kw=1.0,
        )
    )
    return float(plan.peak_import_w[0])


def peak_levels(day_peaks_w: FloatArray, days_left: float) -> list[tuple[float, float]] | None:
    """The LP's ``last_peak_levels``: (level W, share) where ``Q``, the highest of
    ``days_left`` days each like one of ``day_peaks_w``, is that level; ``None`` when no
    day is left or none is known."""
    peaks = np.sort(np.clip(np.asarray(day_peaks_w, dtype=np.float64), 0.0, None))
    if days_left <= 0 or len(peaks) == 0:
        return None
    levels = np.unique(peaks)
    below = np.searchsorted(peaks, levels, side="right") / len(peaks)  # F at each level
    at_most = below**days_left  # P(Q <= level)
    shares = np.diff(np.concatenate(([0.0], at_most)))
    return [(float(lv), float(sh)) for lv, sh in zip(levels, shares, strict=True) if sh > 0]


def month_end_s(t_s: float, tz: ZoneInfo) -> float:
    """The end of the local calendar month under way at ``t_s`` [UTC epoch s]."""
    local = dt.datetime.fromtimestamp(t_s, tz)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return dt.datetime(year, month, 1, tzinfo=tz).timestamp()


class MonthRest:
    """The levels of the month's days past a horizon, from the last ``days`` whole local
    days measured; each day's peak is solved once and kept."""

    def __init__(self, days: int, timezone: ZoneInfo) -> None:
        self.days = days
        self._tz = timezone
        self._peaks_w: dict[float, float] = {}  # by the day's local midnight
        # the battery they were solved for (its rated powers may be learned from the
        # live limits after the first days: then they are solved again)
        self._battery: BatteryModel | None = None

    def levels(
        self,
        load: Series,
        pv: Series | None,
        now_s: float,
        horizon_end_s: float,
        battery: BatteryModel,
    ) -> list[tuple[float, float]] | None:
        """``last_peak_levels`` for a plan from ``now_s`` to ``horizon_end_s``."""
        days_left = (month_end_s(now_s, self._tz) - horizon_end_s) / DAY_S
        if days_left <= 0:
            return None
        today = _midnight(now_s, self._tz)
        starts = [today]
        for _ in range(self.days):
            starts.insert(0, _midnight(starts[0] - 0.5 * DAY_S, self._tz))
        half = replace(battery, initial_soc_pct=(battery.min_soc_pct + battery.max_soc_pct) / 2)
        if half != self._battery:
            self._peaks_w, self._battery = {}, half
        peaks: dict[float, float] = {}
        for start, end in itertools.pairwise(starts):
            peak = self._peaks_w.get(start)
            if peak is None:
                peak = self._day(load, pv, start, end, today, half)
            if peak is not None:
                peaks[start] = peak
        self._peaks_w = peaks
        return peak_levels(np.array(list(peaks.values())), days_left)

    @staticmethod
    def _day(
        load: Series,
        pv: Series | None,
        start_s: float,
        end_s: float,
        before_s: float,
        battery: BatteryModel,
    ) -> float | None:
        """The day's peak (23 or 25 h when the clocks change), ``None`` when the day was
        not measured whole."""
        times = np.arange(start_s, end_s - 1e-6, load.step_s, dtype=np.float64)
        net = values_at(load, times, before_s)
        if pv is not None:
            net = net - np.nan_to_num(values_at(pv, times, before_s), nan=0.0)
        if np.isnan(net).any():
            return None
        try:
            return day_peak_w(net, load.step_s, battery)
        except OptimizeError:
            return None


def _midnight(t_s: float, tz: ZoneInfo) -> float:
    local = dt.datetime.fromtimestamp(t_s, tz)
    return dt.datetime(local.year, local.month, local.day, tzinfo=tz).timestamp()
