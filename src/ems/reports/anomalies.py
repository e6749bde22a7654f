"""Anomalies (DESIGN 15, issue 19 item 8): hours of unusual consumption or generation.

An isolation forest (scikit-learn) per channel, fitted on the hourly rollups
of the report period and the ``history_days`` before it. Each hour is
described by when it is (hour of day and weekday on the unit circle, in the
site's zone) and what it did: its mean power and its *residual*, the mean
minus the median of the same local weekday and hour over the window (the
site's usual week). Powers are scaled by the channel's typical level so one
model setting fits a flat and a house.

An hour is anomalous when its anomaly score ``s`` (Liu et al.: ``s`` near 1 is
isolated quickly, ~0.5 is ordinary) exceeds ``threshold`` *and* its residual is
larger than ``min_residual_frac`` of the typical level, so that a tiny site's
noise is not news. Only hours inside the report period are listed. The
forest is seeded, so a report is reproducible.

Too little history (under ``MIN_HISTORY_HOURS`` hours) gives no verdict rather
than a noisy one.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ems.cloud.telemetry.rollup import RollupPoint
from ems.timefmt import to_rfc3339

__all__ = [
    "ANOMALY_CHANNELS",
    "HOUR_S",
    "MIN_HISTORY_HOURS",
    "find_anomalies",
]

HOUR_S = 3600
ANOMALY_CHANNELS = ("_sum/ConsumptionActivePower", "_sum/ProductionActivePower")
MIN_HISTORY_HOURS = 14 * 24
_SEED = 19
#: Fitting costs ~3 ms a tree in scikit-learn; 60 keep a month's report well under a second
#: and the scores steady (the tests below hold at this count).
_TREES = 60


def find_anomalies(
    hours: Mapping[str, Sequence[RollupPoint]],
    timezone: ZoneInfo,
    period_start_s: float,
    period_end_s: float,
    *,
    threshold: float = 0.65,
    min_residual_frac: float = 0.5,
) -> dict[str, Any]:
    """The anomalies section from 1-h rollups of :data:`ANOMALY_CHANNELS` covering the
    period and the history before it."""
    found: list[dict[str, Any]] = []
    checked: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for channel in ANOMALY_CHANNELS:
        points = list(hours.get(channel, ()))
        if len(points) < MIN_HISTORY_HOURS:
            skipped[channel] = f"{len(points)} h of history, {MIN_HISTORY_HOURS} h needed"
            continue
        flagged, in_period = _channel_anomalies(
            points, timezone, period_start_s, period_end_s, threshold, min_residual_frac
        )
        checked[channel] = in_period
        found.extend({"channel": channel, **row} for row in flagged)
    found.sort(key=lambda r: (r["start"], r["channel"]))
    return {
        "method": "isolation forest on hourly means and weekday-hour residuals",
        "threshold": threshold,
        "hours_checked": checked,
        "skipped": skipped,
        "anomalies": found,
    }


def _channel_anomalies(
    points: Sequence[RollupPoint],
    timezone: ZoneInfo,
    start_s: float,
    end_s: float,
    threshold: float,
    min_residual_frac: float,
) -> tuple[list[dict[str, Any]], int]:
    local = [dt.datetime.fromtimestamp(p.bucket_s, timezone) for p in points]
    slots: dict[tuple[int, int], list[float]] = {}
    for p, t in zip(points, local, strict=True):
        slots.setdefault((t.weekday(), t.hour), []).append(p.mean_w)
    usual = {slot: statistics.median(values) for slot, values in slots.items()}
    # The channel's typical level: robust, and never zero (a night of PV is zero).
    scale_w = max(statistics.median(abs(p.mean_w) for p in points), 1.0)
    scale_w = max(scale_w, 0.1 * max(abs(p.mean_w) for p in points), 1.0)
    rows = []
    for p, t in zip(points, local, strict=True):
        expected = usual[(t.weekday(), t.hour)]
        hour_angle = 2 * math.pi * t.hour / 24
        day_angle = 2 * math.pi * t.weekday() / 7
        rows.append(
            [
                math.sin(hour_angle),
                math.cos(hour_angle),
                math.sin(day_angle),
                math.cos(day_angle),
                p.mean_w / scale_w,
                (p.mean_w - expected) / scale_w,
            ]
        )
    # Imported here: scikit-learn takes a second to import, and most callers never get here.
    from sklearn.ensemble import IsolationForest  # type: ignore[import-untyped]

    features = np.asarray(rows)
    forest = IsolationForest(n_estimators=_TREES, random_state=_SEED).fit(features)
    scores = -forest.score_samples(features)  # sklearn negates the paper's score
    flagged: list[dict[str, Any]] = []
    in_period = 0
    for p, t, score, row in zip(points, local, scores, rows, strict=True):
        if not start_s <= p.bucket_s < end_s:
            continue
        in_period += 1
        if score > threshold and abs(row[5]) > min_residual_frac:
            expected = usual[(t.weekday(), t.hour)]
            flagged.append(
                {
                    "start": to_rfc3339(p.bucket_s),
                    "start_local": t.isoformat(),
                    "mean_w": p.mean_w,
                    "expected_w": expected,
                    "score": float(score),
                }
            )
    return flagged, in_period
