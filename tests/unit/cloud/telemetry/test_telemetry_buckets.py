"""Bucket widths: epoch-aligned, whole seconds, never more buckets than asked for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ems.cloud.telemetry.buckets import bucket_count, bucket_width_s, merge_points
from ems.cloud.telemetry.model import HistoryPoint

T0 = 1_767_225_600.0  # midnight UTC


def test_a_day_of_data_in_500_points() -> None:
    # 86400 / 500 = 172.8 → 173 s, but 173 s buckets from the epoch touch 501
    # of them over this day, so the width grows to 174.
    assert bucket_count(T0, T0 + 86_400, 173) == 501
    assert bucket_width_s(T0, T0 + 86_400, 500) == 174
    assert bucket_count(T0, T0 + 86_400, 174) <= 500


def test_short_windows_use_one_second() -> None:
    assert bucket_width_s(T0, T0 + 60, 500) == 1
    assert bucket_width_s(T0, T0, 500) == 1
    assert bucket_width_s(T0 + 10, T0, 500) == 1
    assert bucket_count(T0 + 10, T0, 1) == 0


def test_too_few_points_are_refused() -> None:
    with pytest.raises(ValueError, match="max_points"):
        bucket_width_s(T0, T0 + 60, 1)


@given(
    start=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    span=st.floats(min_value=0, max_value=4e7, allow_nan=False),
    max_points=st.integers(min_value=2, max_value=5000),
)
def test_never_more_buckets_than_max_points(start: float, span: float, max_points: int) -> None:
    width = bucket_width_s(start, start + span, max_points)
    assert width >= max(1, span / max_points)
    assert bucket_count(start, start + span, width) <= max_points


def test_merge_joins_numbers_and_texts_in_time_order() -> None:
    merged = merge_points(
        [("a", 20.0, 1.0, 0.0, 2.0), ("a", 10.0, 5.0, 5.0, 5.0)],
        [("a", 20.0, "on"), ("b", 0.0, "off")],
        ["a", "b", "c"],
    )
    assert merged == {
        "a": [HistoryPoint(10.0, 5.0, 5.0, 5.0, None), HistoryPoint(20.0, 1.0, 0.0, 2.0, "on")],
        "b": [HistoryPoint(0.0, None, None, None, "off")],
        "c": [],
    }
