"""What the optimiser measures: step means for its forecasts, the month's 15-min peak."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ems.edge.controllers.optimizer.history import MonthPeak, StepMeans
from ems.forecast import Series

JAN31_23H = dt.datetime(2026, 1, 31, 23, 0, tzinfo=dt.UTC).timestamp()


def test_step_means_average_each_step_and_leave_gaps_as_nan() -> None:
    means = StepMeans(900.0, keep_steps=10)
    for t, v in ((0.0, 100.0), (60.0, 300.0), (1800.0, 50.0)):
        means.add(t, v)
    got = means.series(2700.0)
    assert got.start_s == 0.0
    np.testing.assert_array_equal(got.values, [200.0, np.nan, 50.0])


def test_step_means_keep_only_the_newest_steps() -> None:
    means = StepMeans(900.0, keep_steps=2)
    for k in range(4):
        means.add(k * 900.0, float(k))
    assert means.series(3600.0).values.tolist() == [2.0, 3.0]


def test_the_month_peak_is_the_highest_closed_quarter_mean_of_import_this_month() -> None:
    peak = MonthPeak("UTC")
    for k in range(15):  # 23:00-23:15 on 31 January: mean 1500 W, exports count as 0
        peak.add(JAN31_23H + 60 * k, 3000.0 if k < 8 else -1000.0)
    assert peak.peak_w == 0.0, "the quarter is not over yet"
    peak.add(JAN31_23H + 900, 200.0)
    assert peak.peak_w == 1600.0  # (8 × 3000 + 7 × 0) / 15
    peak.add(JAN31_23H + 3600, 500.0)  # 1 February: a new billing month
    assert peak.peak_w == 0.0


def test_seeded_history_fills_steps_not_measured_and_measured_ones_win() -> None:
    means = StepMeans(900.0, keep_steps=3)
    means.add(2700.0, 7.0)  # measured by the controller
    taken = means.seed(Series(0.0, 900.0, np.array([1.0, np.nan, 3.0, 4.0])))
    assert taken == 2, "step 1 is a gap, step 3 was measured"
    np.testing.assert_array_equal(means.series(3600.0).values, [1.0, np.nan, 3.0, 7.0])
    means.add(3600.0, 8.0)  # a fourth kept step: the oldest goes
    np.testing.assert_array_equal(means.series(4500.0).values, [3.0, 7.0, 8.0])


def test_a_history_of_another_step_is_refused() -> None:
    with pytest.raises(ValueError, match="step_s"):
        StepMeans(900.0, keep_steps=3).seed(Series(0.0, 60.0, np.zeros(3)))
