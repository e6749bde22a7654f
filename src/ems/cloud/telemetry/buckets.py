"""History bucket arithmetic shared by the backends (which bucket in SQL)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ems.cloud.telemetry.model import HistoryPoint

__all__ = ["bucket_count", "bucket_width_s", "merge_points"]

# Searching upward from the nominal width takes one or two steps for real chart
# sizes; past this we take the width that is guaranteed to fit.
_SEARCH_STEPS = 64


def bucket_count(start_s: float, end_s: float, width_s: int) -> int:
    """How many epoch-aligned buckets ``[k·w, (k+1)·w)`` intersect ``[start_s, end_s)``."""
    if end_s <= start_s:
        return 0
    return math.ceil(end_s / width_s) - math.floor(start_s / width_s)


def bucket_width_s(start_s: float, end_s: float, max_points: int) -> int:
    """The bucket width in whole seconds for a history query over ``[start_s, end_s)``.

    Nominally ``max(1, ceil((end - start) / max_points))``. Buckets are aligned
    to the epoch, not to ``start_s`` (so the same sample lands in the same
    bucket whatever window a dashboard asks for), which can make the window
    touch one bucket more than the nominal count: then the width grows by the
    fewest seconds that keep the count at or under ``max_points``.
    Raises ``ValueError`` when ``max_points < 2``.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    span = max(0.0, end_s - start_s)
    width = max(1, math.ceil(span / max_points))
    for _ in range(_SEARCH_STEPS):
        if bucket_count(start_s, end_s, width) <= max_points:
            return width
        width += 1
    # count <= ceil(span / w) + 1, so this width always fits.
    return max(1, math.ceil(span / (max_points - 1)))


def merge_points(
    numeric: Iterable[tuple[str, float, float | None, float | None, float | None]],
    text: Iterable[tuple[str, float, str | None]],
    channels: Sequence[str],
) -> dict[str, list[HistoryPoint]]:
    """Join per-bucket numeric aggregates ``(channel, bucket_s, avg, min, max)`` and last
    texts ``(channel, bucket_s, text)`` into time-ordered points for each requested channel."""
    by_channel: dict[str, dict[float, HistoryPoint]] = {ch: {} for ch in channels}
    for channel, bucket_s, avg, low, high in numeric:
        by_channel[channel][bucket_s] = HistoryPoint(bucket_s, avg, low, high, None)
    for channel, bucket_s, last in text:
        points = by_channel[channel]
        known = points.get(bucket_s)
        points[bucket_s] = (
            HistoryPoint(bucket_s, None, None, None, last)
            if known is None
            else known._replace(last_text=last)
        )
    return {ch: [points[t] for t in sorted(points)] for ch, points in by_channel.items()}
