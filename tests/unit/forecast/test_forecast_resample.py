"""Samples and CSV files → 15-min means, gaps kept as NaN, bad files refused by line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ems.dal.sample import Sample
from ems.errors import ConfigError
from ems.forecast.resample import series_from_csv, series_from_samples

T0 = 1_767_225_600.0  # 2026-01-01T00:00Z


def test_means_per_step_and_gaps_are_nan() -> None:
    samples = [
        Sample(100.0, T0),
        Sample(300.0, T0 + 60),
        Sample(50.0, T0 + 1800),
        Sample(None, T0 + 1900),
    ]
    out = series_from_samples(((s.ts, s.value) for s in samples), T0, T0 + 2700)
    assert out.start_s == T0 and out.step_s == 900.0
    np.testing.assert_array_equal(out.values, [200.0, np.nan, 50.0])


def test_samples_outside_the_span_and_non_finite_are_skipped() -> None:
    out = series_from_samples(
        [(T0 - 1, 1e6), (T0 + 10, float("nan")), (T0 + 20, 7.0), (T0 + 900, 1e6)], T0, T0 + 900
    )
    np.testing.assert_array_equal(out.values, [7.0])


def test_bad_span_names_the_field() -> None:
    with pytest.raises(ValueError, match="end_s"):
        series_from_samples([], T0, T0)
    with pytest.raises(ValueError, match="step_s"):
        series_from_samples([], T0, T0 + 900, step_s=0.0)


def test_csv_to_means(tmp_path: Path) -> None:
    path = tmp_path / "load.csv"
    path.write_text(
        "timestamp,load_w\n"
        "2026-01-01T00:00:00Z,100\n"
        "2026-01-01T00:05:00Z,200\n"
        "2026-01-01T00:10:00Z,300\n"
        "2026-01-01T00:35:00Z,400\n"
    )
    out = series_from_csv(path, "load_w")
    assert out.start_s == T0
    np.testing.assert_array_equal(out.values, [200.0, np.nan, 400.0])


def test_bad_csv_is_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "load.csv"
    path.write_text("timestamp,load_w\n2026-01-01T00:00:00Z,100\n2026-01-01T00:05:00Z,lots\n")
    with pytest.raises(ConfigError, match="line 3"):
        series_from_csv(path, "load_w")
    with pytest.raises(ConfigError, match="pv_w"):
        series_from_csv(path, "pv_w")
